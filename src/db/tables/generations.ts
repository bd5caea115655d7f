import { sql } from 'drizzle-orm';
import type { Message, OutputBlock } from '../../llm/message.js';
import type { RequestOptions } from '../../llm/stored.js';
import type { RouteStep } from '../../llm/result.js';
import type { FinishReason } from '../../llm/result.js';
import { boolean, doublePrecision, index, integer, jsonb, numeric, pgTable, primaryKey, text, timestamptz, uniqueIndex } from '../columns.js';
import { DEFAULT_PROJECT } from '../../llm/hash.js';
import { PRIORITIES } from './projects.js';
import { templates } from './templates.js';

/** An answer's parts beyond text and JSON, as `result_extra` holds them. */
export interface ResultExtra {
  blocks?: OutputBlock[];
  logprobs?: unknown;
  /** One vector per input, little-endian float32 bytes in base64. */
  embeddings?: string[];
}

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
    /** What the request holds beyond text chat (tools, tool choice, reasoning, seed, system blocks, an embedding's inputs); null when nothing. */
    requestOptions: jsonb('request_options').$type<RequestOptions>(),
    /** The end user the caller named (`user`, `metadata.user_id`), for filtering; not part of the input. */
    endUser: text('end_user'),
    /** The caller's `metadata`, kept as sent; not part of the input. */
    metadata: jsonb('metadata').$type<Record<string, unknown>>(),
    cacheTtlSeconds: integer('cache_ttl_seconds').notNull(),
    resultText: text('result_text'),
    resultJson: jsonb('result_json'),
    /** `json` when the result held text Postgres cannot store (NUL, unpaired surrogates): then both result columns hold JSON texts (see jobs/result-codec.ts). */
    resultEncoding: text('result_encoding', { enum: ['json'] }),
    /** What the answer holds beyond its text and JSON: its blocks (tool calls, reasoning), logprobs, an embedding's vectors; null when nothing. */
    resultExtra: jsonb('result_extra').$type<ResultExtra>(),
    /** The deployment of the routing document that answered (a model group's call); null otherwise. */
    deployment: text('deployment'),
    /** Each step of a group's calls that did not answer: the deployment, why it was left, when. */
    routeLog: jsonb('route_log').$type<RouteStep[]>(),
    /** The model that answered, as the provider reported it (a dated snapshot of `model`, say); null on rows completed before this column. */
    responseModel: text('response_model'),
    /** Why the answer ended (`stop`, `length`); null on rows completed before this column: `stop`. */
    finishReason: text('finish_reason').$type<FinishReason>(),
    inputTokens: integer('input_tokens').notNull().default(0),
    outputTokens: integer('output_tokens').notNull().default(0),
    /** Of the input tokens, those read from and written to the provider's prompt cache; of the output tokens, those spent reasoning. */
    cacheReadTokens: integer('cache_read_tokens').notNull().default(0),
    cacheWriteTokens: integer('cache_write_tokens').notNull().default(0),
    reasoningTokens: integer('reasoning_tokens').notNull().default(0),
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
    /** The admitting request's W3C `traceparent` when tracing was on: its attempts, replays and joiners point at that trace. */
    traceparent: text('traceparent'),
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
    /** `DELETE /v1/responses/:id`: the answer is no longer served (nor continued from); the row stays for the accounts. */
    deletedAt: timestamptz('deleted_at'),
  },
  (t) => [
    uniqueIndex('generations_in_flight_hash').on(t.inputHash).where(sql`${t.status} in ${IN_FLIGHT_SQL}`),
    index('generations_completed_hash').on(t.inputHash, t.completedAt).where(sql`${t.status} = 'completed'`),
    index('generations_created').on(t.createdAt.desc(), t.id.desc()),
    index('generations_status_created').on(t.status, t.createdAt.desc()),
    index('generations_template_created').on(t.templateId, t.createdAt.desc()),
    index('generations_project_created').on(t.projectId, t.createdAt.desc(), t.id.desc()),
    index('generations_end_user').on(t.projectId, t.endUser, t.createdAt.desc()).where(sql`${t.endUser} is not null`),
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

export type GenerationRow = typeof generations.$inferSelect;
