import { and, eq, gt, or, sql } from 'drizzle-orm';
import { rowsOf, type Db } from '../db/client.js';
import { generations, IN_FLIGHT_SQL, inputSlots, type GenerationRow, type Priority } from '../db/schema.js';
import { RANK } from './sql-parts.js';

/** What answers an input that was not admitted: the generation holding its slot. */
export type SlotAnswer = { state: 'in_flight'; id: string; status: string; traceparent?: string | null } | { state: 'completed'; row: GenerationRow };

/** `answerOf` for many inputs in one statement: what holds each slot that answers now (absent: none). */
export async function answersOf(db: Db, inputHashes: string[]): Promise<Map<string, SlotAnswer>> {
  const out = new Map<string, SlotAnswer>();
  for (let i = 0; i < inputHashes.length; i += 5000) {
    const rows = await db
      .select({ hash: inputSlots.inputHash, state: inputSlots.state, row: generations })
      .from(inputSlots)
      .innerJoin(generations, eq(generations.id, inputSlots.generationId))
      .where(and(sql`${inputSlots.inputHash} = any(${sql.param(inputHashes.slice(i, i + 5000))}::text[])`,
        or(eq(inputSlots.state, 'in_flight'), and(eq(inputSlots.state, 'completed'), gt(inputSlots.expiresAt, sql`now()`)))));
    for (const r of rows) out.set(r.hash, r.state === 'in_flight' ? { state: 'in_flight', id: r.row.id, status: r.row.status } : { state: 'completed', row: r.row });
  }
  return out;
}

/** What holds an input's slot when `admit` said no; undefined when the slot opened meanwhile (admit again). */
export async function answerOf(db: Db, inputHash: string): Promise<SlotAnswer | undefined> {
  const [hit] = await db
    .select({ state: inputSlots.state, row: generations })
    .from(inputSlots)
    .innerJoin(generations, eq(generations.id, inputSlots.generationId))
    .where(and(eq(inputSlots.inputHash, inputHash),
      or(eq(inputSlots.state, 'in_flight'), and(eq(inputSlots.state, 'completed'), gt(inputSlots.expiresAt, sql`now()`)))));
  if (!hit) return undefined;
  return hit.state === 'in_flight' ? { state: 'in_flight', id: hit.row.id, status: hit.row.status, traceparent: hit.row.traceparent } : { state: 'completed', row: hit.row };
}

/**
 * Another request is answered by the in-flight generation `id`: one more subscriber;
 * its class raised to `priority` when that is higher (`raised`); its deadline the later
 * of both, none when the joiner has none. Undefined when the row settled meanwhile.
 */
export async function join(db: Db, id: string, priority: Priority, cancelAt: Date | null): Promise<{ raised: boolean; status: string } | undefined> {
  const res = await db.execute(sql`
    with o as (select id, priority as old from generations where id = ${id} and status in ${IN_FLIGHT_SQL} for update)
    update generations g set subscribers = g.subscribers + 1,
      priority = case when ${RANK(sql`${priority}::text`)} < ${RANK(sql`o.old`)} then ${priority}::text else o.old end,
      cancel_at = case when g.cancel_at is null or ${cancelAt?.toISOString() ?? null}::timestamptz is null then null
        else greatest(g.cancel_at, ${cancelAt?.toISOString() ?? null}::timestamptz) end
    from o where g.id = o.id
    returning g.status, g.priority <> o.old as raised`);
  const [row] = rowsOf<{ status: string; raised: boolean }>(res);
  return row;
}

/**
 * The input hashes of a project's generations (one hash, when given and the project has it):
 * what a project admin's cache clear may touch. Cache keys are input hashes, and a project's
 * hashes are its own (the project is part of the hash), so this finds its entries and no others.
 */
export async function hashesOf(db: Db, projectId: string, inputHash?: string): Promise<string[]> {
  const rows = await db.selectDistinct({ h: generations.inputHash }).from(generations)
    .where(and(eq(generations.projectId, projectId), inputHash ? eq(generations.inputHash, inputHash) : undefined));
  return rows.map((r) => r.h);
}

/** Opens the completed slots of `hashes` (see `expire`). */
export async function expireMany(db: Db, hashes: string[]): Promise<void> {
  if (!hashes.length) return;
  await db.update(inputSlots).set({ state: 'open', expiresAt: null })
    .where(and(eq(inputSlots.state, 'completed'), sql`${inputSlots.inputHash} = any(${sql.param(hashes)}::text[])`));
}

/** Cached results stop answering (admin cache clear): completed slots, of one input or all, open. */
export async function expire(db: Db, inputHash?: string): Promise<void> {
  await db.update(inputSlots).set({ state: 'open', expiresAt: null })
    .where(and(eq(inputSlots.state, 'completed'), inputHash ? eq(inputSlots.inputHash, inputHash) : undefined));
}

