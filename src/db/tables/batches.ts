import { sql } from 'drizzle-orm';
import { bigint, boolean, index, integer, jsonb, pgTable, primaryKey, text, timestamptz } from '../columns.js';
import { DEFAULT_PROJECT } from '../../llm/hash.js';

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
