import { sql, type SQL } from 'drizzle-orm';
import { NO_TEMPLATE } from '../db/schema.js';

export const CANCELED = 'Canceled: by POST /v1/jobs/:id/cancel or its Cancel-After deadline';
export const BATCH_CANCELED = 'Canceled with its batch before it started';
export const OVER_BUDGET = 'A retry was due, but a budget this generation falls under can no longer hold its worst case';

/** A class's rank, highest first (\`PRIORITIES\`' order), for comparing classes in SQL. */
export const RANK = (v: SQL) => sql`array_position(array['high', 'normal', 'low']::text[], ${v})`;
const NO_TEMPLATE_SQL = sql.raw(`'${NO_TEMPLATE}'`);

/**
 * The upsert that adds attempts' tokens and cost (`rows`: k, t, it, ot, cost,
 * unpriced; t null: no template, `NO_TEMPLATE`) to today's `usage_daily`, in the statement that records them on
 * their rows. Ordered by key, as every writer of usage_daily is, so concurrent
 * statements lock its rows in one order.
 */
export const spendOf = (rows: SQL) => sql`
  insert into usage_daily as u (day, api_key_id, template_id, input_tokens, output_tokens, cost_usd, unpriced)
  select (now() at time zone 'utc')::date, r.k, coalesce(r.t, ${NO_TEMPLATE_SQL}), sum(r.it), sum(r.ot), sum(r.cost), count(*) filter (where r.unpriced)
  from (${rows}) r group by r.k, coalesce(r.t, ${NO_TEMPLATE_SQL}) order by r.k, coalesce(r.t, ${NO_TEMPLATE_SQL})
  on conflict (day, api_key_id, template_id) do update set
    input_tokens = u.input_tokens + excluded.input_tokens, output_tokens = u.output_tokens + excluded.output_tokens,
    cost_usd = u.cost_usd + excluded.cost_usd, unpriced = u.unpriced + excluded.unpriced`;
