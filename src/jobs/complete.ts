import { sql } from 'drizzle-orm';
import { rowsOf, type Db } from '../db/client.js';
import { executeNamed } from '../db/prepared.js';
import { IN_FLIGHT_SQL, type ResultExtra } from '../db/schema.js';
import type { FinishReason, Usage } from '../llm/result.js';
import { encodeResult } from './result-codec.js';
import { spendOf } from './sql-parts.js';

export interface Completion extends Usage {
  id: string;
  text: string;
  json: unknown;
  /** What the answer holds beyond text and JSON: its blocks (tool calls, reasoning), logprobs, embeddings. */
  extra?: ResultExtra;
  finishReason: FinishReason;
  /** The model that answered, as the provider reported it. */
  responseModel?: string;
  /** The deployment of the routing document that answered a model group's call. */
  deployment?: string;
  costUsd: number;
  /** No price was known for the model: `costUsd` is 0 and the attempt is counted as unpriced. */
  unpriced?: boolean;
}

/** What the cache needs of a row just completed (the totals include earlier failed attempts). */
export interface Completed {
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
  completedAt: Date;
}

/**
 * Completes many rows in one statement: each row completes with its answer, its slot turns
 * `completed` (fresh for the row's TTL), and the attempt's tokens and cost reach the day's totals
 * and the budgets, so no process death can split them. A row already settled is left alone
 * (undefined in its place).
 */
export async function completeRows(db: Db, items: Completion[]): Promise<(Completed | undefined)[]> {
  const stored = items.map((i) => encodeResult(i.text, i.json, i.extra));
  // One statement: the row completes, its slot turns `completed` (fresh for the row's TTL), and the
  // attempt's tokens and cost reach the day's totals, so no process death can split them.
  const res = await executeNamed(db, 'complete', sql`
    with v as (
      select * from unnest(${sql.param(items.map((i) => i.id))}::text[], ${sql.param(stored.map((s) => s.text))}::text[],
        ${sql.param(stored.map((s) => s.json))}::jsonb[], ${sql.param(stored.map((s) => s.encoding))}::text[],
        ${sql.param(items.map((i) => i.inputTokens))}::int[], ${sql.param(items.map((i) => i.outputTokens))}::int[],
        ${sql.param(items.map((i) => i.costUsd))}::numeric[], ${sql.param(items.map((i) => i.unpriced === true))}::bool[],
        ${sql.param(items.map((i) => i.finishReason))}::text[], ${sql.param(items.map((i) => i.responseModel ?? null))}::text[],
        ${sql.param(stored.map((s) => s.extra))}::jsonb[], ${sql.param(items.map((i) => i.cacheReadTokens ?? 0))}::int[],
        ${sql.param(items.map((i) => i.cacheWriteTokens ?? 0))}::int[], ${sql.param(items.map((i) => i.reasoningTokens ?? 0))}::int[],
        ${sql.param(items.map((i) => i.deployment ?? null))}::text[])
        as v(id, text, json, enc, it, ot, cost, unpriced, finish, rmodel, extra, crt, cwt, rt, dep)
    ), done as (
      update generations g set status = 'completed', result_text = v.text, result_json = v.json, result_encoding = v.enc, finish_reason = v.finish, response_model = v.rmodel,
        result_extra = v.extra, cache_read_tokens = g.cache_read_tokens + v.crt, cache_write_tokens = g.cache_write_tokens + v.cwt,
        reasoning_tokens = g.reasoning_tokens + v.rt, deployment = v.dep,
        error_code = null, error_message = null, completed_at = now(), unpriced = g.unpriced or v.unpriced,
        input_tokens = g.input_tokens + v.it, output_tokens = g.output_tokens + v.ot, cost_usd = g.cost_usd + v.cost
      from v where g.id = v.id and g.status in ${IN_FLIGHT_SQL}
      returning g.id, g.input_hash, g.cache_ttl_seconds, g.input_tokens, g.output_tokens, g.cost_usd, g.completed_at,
        g.api_key_id, g.template_id, g.reserved_usd, g.reserved_at
    ), slot as (
      update input_slots s set state = 'completed', expires_at = done.completed_at + make_interval(secs => done.cache_ttl_seconds)
      from done where s.input_hash = done.input_hash and s.generation_id = done.id
    ), spend as (${spendOf(sql`select done.api_key_id as k, done.template_id as t, v.it, v.ot, v.cost, v.unpriced from done join v on v.id = done.id`)}
    ), budget as (
      select count(*) as n from (select array_agg(done.api_key_id) k, array_agg(done.template_id) t, array_agg(done.reserved_usd) r,
        array_agg(done.reserved_at) ra, array_agg(v.cost) c from done join v on v.id = done.id) a,
        budget_apply(a.k, a.t, a.r, a.ra, a.c, array_fill(null::numeric, array[coalesce(cardinality(a.k), 0)]))
    )
    select id, input_tokens, output_tokens, cost_usd, completed_at from done, budget`);
  const byId = new Map(
    rowsOf<{ id: string; input_tokens: number; output_tokens: number; cost_usd: string; completed_at: string | Date }>(res).map((r) => [r.id, {
      inputTokens: r.input_tokens, outputTokens: r.output_tokens, costUsd: Number(r.cost_usd), completedAt: new Date(r.completed_at),
    }]),
  );
  return items.map((i) => byId.get(i.id));
}
