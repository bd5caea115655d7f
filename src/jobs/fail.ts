import { sql } from 'drizzle-orm';
import { rowsOf, type Db } from '../db/client.js';
import { IN_FLIGHT_SQL } from '../db/schema.js';
import { storableMessage } from './result-codec.js';
import { CANCELED, OVER_BUDGET, spendOf } from './sql-parts.js';

/** A failed attempt as recorded: `final` settles the row `dead` and opens its input's slot. */
export interface Failed {
  id: string;
  final: boolean;
  /** Settle `canceled` instead of `dead` (a cancel, or its deadline); a cancel requested on the row does too. */
  canceled?: boolean;
  /** Only rows in these statuses (a cancel from the API takes only those no attempt holds). @defaultValue IN_FLIGHT */
  from?: readonly ('queued' | 'failed' | 'active')[];
  code: string;
  message: string;
  /** Tokens the provider still charged for this attempt, and their price. */
  paid?: { inputTokens: number; outputTokens: number; costUsd: number; unpriced?: boolean };
  /** The next attempt's worst case, to hold in the budgets before it may run (-1: unpriced). */
  again?: number;
}

/** What `failRow` did: settled (false when the row had already), and how. */
export interface FailOutcome {
  settled: boolean;
  dead: boolean;
  canceled: boolean;
  overBudget: boolean;
}

/** Records a failed attempt (and what it cost); a final one settles the row `dead` and opens its slot. False when already settled. */
export async function failRow(db: Db, f: Failed): Promise<FailOutcome> {
  const p = f.paid ?? { inputTokens: 0, outputTokens: 0, costUsd: 0 };
  // The attempt's hold is released and its cost charged; a retry must hold its worst case again, in the
  // same statement: a budget that can no longer hold it ends the job here (`budget_exceeded`).
  // A cancel requested while the attempt ran ends it `canceled` whatever the attempt's error.
  const again = f.final || f.canceled ? null : (f.again ?? null);
  const from = f.from ? sql.raw(`(${f.from.map((st) => `'${st}'`).join(', ')})`) : IN_FLIGHT_SQL;
  const res = await db.execute(sql`
    with cur as (
      select id, api_key_id, template_id, reserved_usd, reserved_at,
        (${f.canceled === true}::bool or cancel_requested_at is not null or cancel_at <= now()) as cancel from generations
      where id = ${f.id} and status in ${from} for update
    ), budget as (
      select b.refusal, b.held from cur, budget_apply(array[cur.api_key_id], array[cur.template_id], array[cur.reserved_usd],
        array[cur.reserved_at], array[${p.costUsd}::numeric], array[case when cur.cancel then null else ${again}::numeric end]) b
    ), g as (
      update generations set
        status = case when cur.cancel then 'canceled' when ${f.final}::bool or (select refusal from budget) is not null then 'dead' else 'failed' end,
        error_code = case when cur.cancel then 'canceled' when (select refusal from budget) is not null then 'budget_exceeded' else ${f.code} end,
        error_message = case when cur.cancel then ${CANCELED} when (select refusal from budget) is not null then ${OVER_BUDGET} else ${storableMessage(f.message)} end,
        completed_at = case when cur.cancel or ${f.final}::bool or (select refusal from budget) is not null then now() end,
        reserved_usd = case when (select held from budget) and not cur.cancel then ${again ?? 0}::numeric else 0 end, reserved_at = now(),
        unpriced = unpriced or ${p.unpriced === true}::bool,
        input_tokens = input_tokens + ${p.inputTokens}, output_tokens = output_tokens + ${p.outputTokens}, cost_usd = cost_usd + ${p.costUsd}
      from cur where generations.id = cur.id
      returning generations.id, generations.input_hash, generations.api_key_id, generations.template_id, generations.status
    ), slot as (
      update input_slots s set state = 'open', expires_at = null
      from g where g.status in ('dead', 'canceled') and s.input_hash = g.input_hash and s.generation_id = g.id
    ), spend as (${spendOf(sql`select api_key_id as k, template_id as t, ${p.inputTokens}::int as it, ${p.outputTokens}::int as ot,
        ${p.costUsd}::numeric as cost, ${p.unpriced === true}::bool as unpriced from g where ${f.paid !== undefined}::bool`)})
    select g.status, (select refusal from budget) is not null and g.status = 'dead' as over from g`);
  const [row] = rowsOf<{ status: string; over: boolean }>(res);
  return { settled: !!row, dead: row?.status === 'dead', canceled: row?.status === 'canceled', overBudget: row?.over === true };
}

