import { sql } from 'drizzle-orm';
import type { FinishReason } from '../llm/result.js';
import type { Message } from '../llm/message.js';
import { bigint, boolean, date, doublePrecision, index, integer, jsonb, numeric, pgTable, primaryKey, text, timestamptz, uniqueIndex } from './columns.js';

/** The project every row created before projects existed belongs to. */
export const DEFAULT_PROJECT = 'default';

/** Projects (tenants): every key belongs to one, and sees only its project's objects. */
export const projects = pgTable('projects', {
  /** `prj_…`; the one existing data migrated into is `default`. */
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  createdAt: timestamptz('created_at').notNull().defaultNow(),
  updatedAt: timestamptz('updated_at').notNull().defaultNow(),
});

export const KEY_ROLES = ['admin', 'member'] as const;

/** Queue classes of generations, highest first (src/queue/fairness.ts maps them onto BullMQ priorities). */
export const PRIORITIES = ['high', 'normal', 'low'] as const;
export type Priority = (typeof PRIORITIES)[number];

/** API keys: only the SHA-256 of a key is kept; the key itself is shown once. */
export const apiKeys = pgTable('api_keys', {
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  tier: text('tier', { enum: ['free', 'pro', 'enterprise'] }).notNull(),
  keyHash: text('key_hash').notNull().unique(),
  /** `provider/model` glob patterns this key may use; null: its tier's (MODELS_<TIER>). */
  allowedModels: jsonb('allowed_models').$type<string[]>(),
  /** Queue class of this key's generations when a request names none; null: its tier's (PRIORITY_<TIER>). */
  priority: text('priority', { enum: PRIORITIES }),
  /**
   * The key's Standard Webhooks signing secret (`whsec_` + base64 of 32 random bytes), null until
   * one is created. Kept as is, not hashed: every delivery must sign with it.
   */
  webhookSecret: text('webhook_secret'),
  createdAt: timestamptz('created_at').notNull().defaultNow(),
  projectId: text('project_id').notNull().default(DEFAULT_PROJECT).references(() => projects.id),
  /** `admin`: manages its project (keys, templates, budgets, dead letters, cache); `member`: generates and reads. */
  role: text('role', { enum: KEY_ROLES }).notNull().default('admin'),
  /** The first characters of the secret, to recognise a key in a list (`pl_live_AbC…`). */
  prefix: text('prefix'),
  expiresAt: timestamptz('expires_at'),
  revokedAt: timestamptz('revoked_at'),
  lastUsedAt: timestamptz('last_used_at'),
  /** The secret before the last rotation, accepted until `previous_valid_until`. */
  previousKeyHash: text('previous_key_hash').unique(),
  previousValidUntil: timestamptz('previous_valid_until'),
}, (t) => [index('api_keys_project').on(t.projectId, t.createdAt)]);

/** One row per administrative action: who (key id), what, on which target, when, in which request. */
export const auditLog = pgTable('audit_log', {
  id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
  at: timestamptz('at').notNull().defaultNow(),
  /** The acting key: `key_…`, or `admin` for PROMPTLAB_ADMIN_KEY. */
  keyId: text('key_id').notNull(),
  /** The project acted on; null for actions on no one project (global cache clear). */
  projectId: text('project_id'),
  action: text('action').notNull(),
  target: text('target'),
  requestId: text('request_id'),
  details: jsonb('details').$type<Record<string, unknown>>(),
}, (t) => [index('audit_log_project_at').on(t.projectId, t.at.desc()), index('audit_log_at').on(t.at.desc())]);

/** Prompt templates; `version` is bumped on every change so old cache keys stop matching. */
export const templates = pgTable('templates', {
  id: text('id').primaryKey(),
  projectId: text('project_id').notNull().default(DEFAULT_PROJECT),
  name: text('name').notNull(),
  body: text('body').notNull(),
  system: text('system'),
  provider: text('provider'),
  model: text('model'),
  maxTokens: integer('max_tokens'),
  temperature: doublePrecision('temperature'),
  outputSchema: jsonb('output_schema').$type<Record<string, unknown>>(),
  cacheTtlSeconds: integer('cache_ttl_seconds'),
  keyFields: jsonb('key_fields').$type<string[]>(),
  version: integer('version').notNull().default(1),
  createdAt: timestamptz('created_at').notNull().defaultNow(),
  updatedAt: timestamptz('updated_at').notNull().defaultNow(),
  deletedAt: timestamptz('deleted_at'),
});

/**
 * Every version of every template as it was saved: written with the template on create and
 * on each change, so a generation's (`template_id`, `template_version`) names the text it used.
 */
export const templateVersions = pgTable(
  'template_versions',
  {
    templateId: text('template_id').notNull().references(() => templates.id),
    version: integer('version').notNull(),
    name: text('name').notNull(),
    body: text('body').notNull(),
    system: text('system'),
    provider: text('provider'),
    model: text('model'),
    maxTokens: integer('max_tokens'),
    temperature: doublePrecision('temperature'),
    outputSchema: jsonb('output_schema').$type<Record<string, unknown>>(),
    cacheTtlSeconds: integer('cache_ttl_seconds'),
    keyFields: jsonb('key_fields').$type<string[]>(),
    createdAt: timestamptz('created_at').notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.templateId, t.version] })],
);

export const JOB_STATUSES = ['queued', 'active', 'failed', 'completed', 'dead', 'canceled'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];
/** Statuses of a generation that may still produce a result: at most one row per input hash. */
export const IN_FLIGHT: readonly JobStatus[] = ['queued', 'active', 'failed'];
/** `IN_FLIGHT` as an SQL list literal, e.g. `status in ${IN_FLIGHT_SQL}`: a literal, so Postgres can match the partial index. */
export const IN_FLIGHT_SQL = sql.raw(`(${IN_FLIGHT.map((s) => `'${s}'`).join(', ')})`);

/** One generation (job): the lasting record of what was asked, what it cost and what came back. */
export const generations = pgTable(
  'generations',
  {
    id: text('id').primaryKey(),
    projectId: text('project_id').notNull().default(DEFAULT_PROJECT),
    /** Null when the request was not rendered from a template. */
    templateId: text('template_id').references(() => templates.id),
    templateVersion: integer('template_version'),
    provider: text('provider').notNull(),
    model: text('model').notNull(),
    inputHash: text('input_hash').notNull(),
    status: text('status', { enum: JOB_STATUSES }).notNull(),
    attempts: integer('attempts').notNull().default(0),
    system: text('system'),
    /** The request's messages; null on rows older than this column, whose `prompt` was the one user message. */
    messages: jsonb('messages').$type<Message[]>(),
    /** The one user message's content, or every message as `role: content` lines (`promptOf`), for readers of this column. */
    prompt: text('prompt').notNull(),
    maxTokens: integer('max_tokens').notNull(),
    temperature: doublePrecision('temperature'),
    topP: doublePrecision('top_p'),
    stop: jsonb('stop').$type<string[]>(),
    outputSchema: jsonb('output_schema').$type<Record<string, unknown>>(),
    cacheTtlSeconds: integer('cache_ttl_seconds').notNull(),
    resultText: text('result_text'),
    resultJson: jsonb('result_json'),
    /** `json` when the result held text Postgres cannot store (NUL, unpaired surrogates): then both result columns hold JSON texts (see jobs/result-codec.ts). */
    resultEncoding: text('result_encoding', { enum: ['json'] }),
    /** The model that answered, as the provider reported it (a dated snapshot of `model`, say); null on rows completed before this column. */
    responseModel: text('response_model'),
    /** Why the answer ended (`stop`, `length`); null on rows completed before this column: `stop`. */
    finishReason: text('finish_reason').$type<FinishReason>(),
    inputTokens: integer('input_tokens').notNull().default(0),
    outputTokens: integer('output_tokens').notNull().default(0),
    costUsd: numeric('cost_usd', { precision: 20, scale: 9, mode: 'number' }).notNull().default(0),
    /** No price was known for the model (ALLOW_UNPRICED_MODELS): `costUsd` is then shown as null. */
    unpriced: boolean('unpriced').notNull().default(false),
    /** What the attempt now running holds of every budget it falls under (its worst case), and since when. */
    reservedUsd: numeric('reserved_usd', { precision: 20, scale: 9, mode: 'number' }).notNull().default(0),
    reservedAt: timestamptz('reserved_at'),
    errorCode: text('error_code'),
    errorMessage: text('error_message'),
    apiKeyId: text('api_key_id').notNull(),
    requestId: text('request_id'),
    /** The batch that admitted this generation (`POST /v1/batches`); null for single requests. */
    batchId: text('batch_id'),
    createdAt: timestamptz('created_at').notNull().defaultNow(),
    startedAt: timestamptz('started_at'),
    /** When the attempt now running claimed the row: only one attempt runs at a time (see `Ledger.claim`). */
    claimedAt: timestamptz('claimed_at'),
    completedAt: timestamptz('completed_at'),
    /** Queue class; raised (never lowered) when a request of a higher class joins the generation. */
    priority: text('priority', { enum: PRIORITIES }).notNull().default('normal'),
    /** Requests answered by this generation: the admitting one plus every join; a cancel detaches one, the last one cancels. */
    subscribers: integer('subscribers').notNull().default(1),
    /** `Cancel-After`: canceled once this passes (null: no deadline; a joiner without one lifts it). */
    cancelAt: timestamptz('cancel_at'),
    /** A cancel reached the row while an attempt ran: the worker aborts it and settles the row `canceled`. */
    cancelRequestedAt: timestamptz('cancel_requested_at'),
  },
  (t) => [
    uniqueIndex('generations_in_flight_hash').on(t.inputHash).where(sql`${t.status} in ${IN_FLIGHT_SQL}`),
    index('generations_completed_hash').on(t.inputHash, t.completedAt).where(sql`${t.status} = 'completed'`),
    index('generations_created').on(t.createdAt.desc(), t.id.desc()),
    index('generations_status_created').on(t.status, t.createdAt.desc()),
    index('generations_template_created').on(t.templateId, t.createdAt.desc()),
    index('generations_project_created').on(t.projectId, t.createdAt.desc(), t.id.desc()),
  ],
);

export const SLOT_STATES = ['in_flight', 'completed', 'open'] as const;

/**
 * One row per input hash: which generation answers that input now, and until
 * when. Admission takes a slot in one INSERT … ON CONFLICT DO UPDATE whose
 * WHERE sees the slot's latest committed state, so an input whose result is
 * in flight, or completed and inside its TTL, is never admitted twice
 * (`Ledger.admit`). A generation's row and its slot change in one statement.
 */
export const inputSlots = pgTable('input_slots', {
  inputHash: text('input_hash').primaryKey(),
  generationId: text('generation_id').notNull(),
  /** `in_flight`: the generation may still answer; `completed`: its result answers until `expiresAt`; `open`: nothing answers. */
  state: text('state', { enum: SLOT_STATES }).notNull(),
  expiresAt: timestamptz('expires_at'),
});

export type TemplateRow = typeof templates.$inferSelect;
export type TemplateVersionRow = typeof templateVersions.$inferSelect;
export type GenerationRow = typeof generations.$inferSelect;
export type ApiKeyRow = typeof apiKeys.$inferSelect;

/**
 * Idempotency-Key records (24 h): the first request with a key stores its
 * payload hash while it is admitted (`pending`), then its response; repeats
 * get that response, a different payload gets 422, a repeat while pending 409.
 */
export const idempotencyKeys = pgTable(
  'idempotency_keys',
  {
    apiKeyId: text('api_key_id').notNull(),
    key: text('key').notNull(),
    requestHash: text('request_hash').notNull(),
    state: text('state', { enum: ['pending', 'done'] }).notNull(),
    responseStatus: integer('response_status'),
    responseBody: jsonb('response_body'),
    /** `json` when the body held text Postgres cannot store: then `response_body` is `{json: <its JSON text>}` (jobs/result-codec.ts). */
    responseEncoding: text('response_encoding', { enum: ['json'] }),
    responseHeaders: jsonb('response_headers').$type<Record<string, string>>(),
    createdAt: timestamptz('created_at').notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.apiKeyId, t.key] }), index('idempotency_keys_created').on(t.createdAt)],
);

/** Spend per day, API key and template (`NO_TEMPLATE`, '', for generations without one); counters are accumulated in process and flushed in batches. */
export const usageDaily = pgTable(
  'usage_daily',
  {
    day: date('day', { mode: 'string' }).notNull(),
    apiKeyId: text('api_key_id').notNull(),
    templateId: text('template_id').notNull(),
    requests: bigint('requests', { mode: 'number' }).notNull().default(0),
    cacheHits: bigint('cache_hits', { mode: 'number' }).notNull().default(0),
    inputTokens: bigint('input_tokens', { mode: 'number' }).notNull().default(0),
    outputTokens: bigint('output_tokens', { mode: 'number' }).notNull().default(0),
    costUsd: numeric('cost_usd', { precision: 20, scale: 9, mode: 'number' }).notNull().default(0),
    savedUsd: numeric('saved_usd', { precision: 20, scale: 9, mode: 'number' }).notNull().default(0),
    /** Attempts charged for a model with no price (their cost is unknown, not 0). */
    unpriced: bigint('unpriced', { mode: 'number' }).notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.day, t.apiKeyId, t.templateId] })],
);

/** `usage_daily.template_id` of generations not rendered from a template (the column is part of the primary key). */
export const NO_TEMPLATE = '';

export const BUDGET_SCOPES = ['api_key', 'template'] as const;
export const BUDGET_PERIODS = ['day', 'month'] as const;

/** Spending caps: at most one per scope object and period (UTC day or month). */
export const budgets = pgTable(
  'budgets',
  {
    scope: text('scope', { enum: BUDGET_SCOPES }).notNull(),
    scopeId: text('scope_id').notNull(),
    period: text('period', { enum: BUDGET_PERIODS }).notNull(),
    usd: numeric('usd', { precision: 20, scale: 9, mode: 'number' }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.scope, t.scopeId, t.period] })],
);

/**
 * What each budget has spent and holds reserved in one period: changed only by
 * `reserve_budgets` and `settle_budgets` (migrations/0004_budget_functions.sql),
 * which lock the rows they touch in key order, so any number of processes
 * reserve and settle atomically.
 */
export const budgetUsage = pgTable(
  'budget_usage',
  {
    scope: text('scope', { enum: BUDGET_SCOPES }).notNull(),
    scopeId: text('scope_id').notNull(),
    period: text('period', { enum: BUDGET_PERIODS }).notNull(),
    periodStart: date('period_start', { mode: 'string' }).notNull(),
    spentUsd: numeric('spent_usd', { precision: 20, scale: 9, mode: 'number' }).notNull().default(0),
    reservedUsd: numeric('reserved_usd', { precision: 20, scale: 9, mode: 'number' }).notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.scope, t.scopeId, t.period, t.periodStart] })],
);

export const BATCH_STATUSES = ['in_progress', 'completed', 'canceled'] as const;
export type BatchStatus = (typeof BATCH_STATUSES)[number];
export const WEBHOOK_EVENTS = ['completed', 'dead', 'canceled', 'batch.completed'] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];

/**
 * A batch (`POST /v1/batches`): many inputs admitted in one request. `completed_at` is set once,
 * when its last item settles (status `completed`, or stays `canceled`).
 */
export const batches = pgTable('batches', {
  id: text('id').primaryKey(),
  apiKeyId: text('api_key_id').notNull(),
  projectId: text('project_id').notNull().default(DEFAULT_PROJECT),
  templateId: text('template_id'),
  status: text('status', { enum: BATCH_STATUSES }).notNull(),
  total: integer('total').notNull(),
  /** Items answered from a result at admission (`cached: true`). */
  cachedCount: integer('cached_count').notNull().default(0),
  priority: text('priority'),
  webhookUrl: text('webhook_url'),
  webhookEvents: jsonb('webhook_events').$type<WebhookEvent[]>(),
  createdAt: timestamptz('created_at').notNull().defaultNow(),
  canceledAt: timestamptz('canceled_at'),
  completedAt: timestamptz('completed_at'),
}, (t) => [index('batches_key_created').on(t.apiKeyId, t.createdAt.desc()), index('batches_project_created').on(t.projectId, t.createdAt.desc())]);

/** The items of a batch, in order: each answered by one generation (its own, one it joined, or a cached one). */
export const batchItems = pgTable('batch_items', {
  batchId: text('batch_id').notNull(),
  idx: integer('idx').notNull(),
  customId: text('custom_id'),
  generationId: text('generation_id').notNull(),
  cached: boolean('cached').notNull().default(false),
  /** Its generation completed or died: a batch with no unsettled item is complete (`Webhooks.ended`). */
  settled: boolean('settled').notNull().default(false),
}, (t) => [
  primaryKey({ columns: [t.batchId, t.idx] }),
  index('batch_items_generation').on(t.generationId).where(sql`not ${t.settled}`),
  index('batch_items_unsettled').on(t.batchId).where(sql`not ${t.settled}`),
]);

/**
 * Who wants to hear when a generation or batch ends: one row per request that asked
 * (`webhook` on generate; a batch's own in `batches`). Joiners of a generation add theirs.
 */
export const webhookSubscriptions = pgTable('webhook_subscriptions', {
  id: text('id').primaryKey(),
  generationId: text('generation_id').notNull(),
  apiKeyId: text('api_key_id').notNull(),
  url: text('url').notNull(),
  events: jsonb('events').$type<WebhookEvent[]>().notNull(),
  createdAt: timestamptz('created_at').notNull().defaultNow(),
}, (t) => [index('webhook_subscriptions_generation').on(t.generationId)]);

/** Every delivery attempt of a webhook message (`GET /v1/jobs/:id/webhooks`). */
export const webhookAttempts = pgTable('webhook_attempts', {
  id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
  /** The `webhook-id`: the same on every attempt of one message. */
  messageId: text('message_id').notNull(),
  generationId: text('generation_id'),
  batchId: text('batch_id'),
  apiKeyId: text('api_key_id').notNull(),
  event: text('event', { enum: WEBHOOK_EVENTS }).notNull(),
  url: text('url').notNull(),
  attempt: integer('attempt').notNull(),
  at: timestamptz('at').notNull().defaultNow(),
  statusCode: integer('status_code'),
  durationMs: integer('duration_ms').notNull(),
  error: text('error'),
  delivered: boolean('delivered').notNull(),
}, (t) => [index('webhook_attempts_generation').on(t.generationId, t.id), index('webhook_attempts_batch').on(t.batchId, t.id)]);

/** Endpoints a receiver answered 410 Gone: no more deliveries to that URL for that key. */
export const webhookDisabled = pgTable('webhook_disabled', {
  apiKeyId: text('api_key_id').notNull(),
  url: text('url').notNull(),
  disabledAt: timestamptz('disabled_at').notNull().defaultNow(),
}, (t) => [primaryKey({ columns: [t.apiKeyId, t.url] })]);

export type BatchRow = typeof batches.$inferSelect;
export type WebhookAttemptRow = typeof webhookAttempts.$inferSelect;
