import { sql } from 'drizzle-orm';
import { rowsOf, type Db } from '../db/client.js';
import { IN_FLIGHT_SQL } from '../db/schema.js';
import { failRow } from './fail.js';
import { BATCH_CANCELED, CANCELED } from './sql-parts.js';

/**
 * A caller gives up on the generation `id`: \`detached\` when others still wait for it (one
 * subscriber fewer); else \`canceled\` when no attempt holds it (queued, or failed and waiting
 * for its retry: settled at once, its hold released and its slot opened), \`aborting\` when an
 * attempt runs (marked; its worker aborts the call and settles the row); \`settled\` when it had ended.
 */
export async function cancelRow(db: Db, id: string): Promise<'detached' | 'canceled' | 'aborting' | 'settled'> {
  const detached = await db.execute(sql`
    update generations set subscribers = subscribers - 1
    where id = ${id} and status in ${IN_FLIGHT_SQL} and subscribers > 1 and cancel_requested_at is null returning id`);
  if (rowsOf(detached).length) return 'detached';
  if ((await failRow(db, { id, final: true, canceled: true, from: ['queued', 'failed'], code: 'canceled', message: CANCELED })).settled) return 'canceled';
  const marked = await db.execute(sql`
    update generations set cancel_requested_at = coalesce(cancel_requested_at, now()), subscribers = 0
    where id = ${id} and status = 'active' returning id`);
  if (rowsOf(marked).length) return 'aborting';
  // It left 'active' between the statements: a retry now waits (cancel it), or it settled.
  if ((await failRow(db, { id, final: true, canceled: true, from: ['queued', 'failed'], code: 'canceled', message: CANCELED })).settled) return 'canceled';
  return 'settled';
}

/** Rows past their `Cancel-After` deadline that no attempt holds, for the sweeper to cancel (oldest first). */
export async function overdueRows(db: Db, limit = 500): Promise<string[]> {
  const res = await db.execute(sql`
    select id from generations where status in ('queued', 'failed') and cancel_at <= now() order by cancel_at limit ${limit}`);
  return rowsOf<{ id: string }>(res).map((r) => r.id);
}

/**
 * Generations of a batch that never started (their BullMQ jobs removed) settled `canceled`,
 * in one statement: slots opened, holds released. Rows that started meanwhile
 * are left to run. Resolves to the ids canceled.
 */
export async function cancelQueuedRows(db: Db, ids: string[]): Promise<string[]> {
  if (!ids.length) return [];
  const res = await db.execute(sql`
    with cur as (
      select id, reserved_usd, reserved_at from generations where id = any(${sql.param(ids)}::text[]) and status = 'queued' order by id for update
    ), g as (
      update generations set status = 'canceled', error_code = 'canceled', error_message = ${BATCH_CANCELED}, completed_at = now(), reserved_usd = 0
      from cur where generations.id = cur.id
      returning generations.id, generations.input_hash, generations.api_key_id, generations.template_id, cur.reserved_usd as r, cur.reserved_at
    ), slot as (
      update input_slots s set state = 'open', expires_at = null from g where s.input_hash = g.input_hash and s.generation_id = g.id
    ), budget as (
      select count(*) from (select array_agg(k) k, array_agg(t) t, array_agg(r) r, array_agg(ra) ra from
        (select api_key_id k, template_id t, r, reserved_at ra from g where r > 0 order by api_key_id) x) a,
        budget_apply(a.k, a.t, a.r, a.ra, array_fill(0::numeric, array[coalesce(cardinality(a.k), 0)]), array_fill(null::numeric, array[coalesce(cardinality(a.k), 0)]))
    )
    select id from g, (select count(*) from budget) b`);
  return rowsOf<{ id: string }>(res).map((r) => r.id);
}

