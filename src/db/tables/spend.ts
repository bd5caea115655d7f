import { bigint, date, index, integer, jsonb, numeric, pgTable, primaryKey, text, timestamptz } from '../columns.js';

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
