import { and, eq, sql } from 'drizzle-orm';
import { rowsOf, type Db } from '../db/client.js';
import { generations } from '../db/schema.js';

/** What a claim found: see `Ledger.claim`. */
export type Claim = 'claimed' | 'settled' | 'busy' | 'cancel';

/**
 * Marks attempts started (`active`, attempts + 1, `claimed_at`), in one statement for many rows.
 * A row is claimed only when no attempt holds it: queued, failed (a retry is due), or active with
 * a claim older than `staleClaimMs`, the BullMQ lock, whose worker must have died (BullMQ hands a
 * stalled job on only then).
 */
export async function claimRows(db: Db, ids: string[], staleClaimMs: number): Promise<Claim[]> {
  const res = await db.execute(sql`
    with c as (
      update generations set status = 'active', attempts = attempts + 1, started_at = coalesce(started_at, now()), claimed_at = now()
      where id = any(${sql.param(ids)}::text[]) and cancel_requested_at is null and coalesce(cancel_at > now(), true) and (status in ('queued', 'failed')
        or (status = 'active' and coalesce(claimed_at, started_at, created_at) < now() - make_interval(secs => ${staleClaimMs / 1000})))
      returning id
    )
    select g.id, c.id is not null as claimed, g.status in ('completed', 'dead', 'canceled') as settled,
      (g.cancel_requested_at is not null or g.cancel_at <= now()) as cancel
    from generations g left join c on c.id = g.id where g.id = any(${sql.param(ids)}::text[])`);
  const byId = new Map(rowsOf<{ id: string; claimed: boolean; settled: boolean; cancel: boolean }>(res)
    .map((r) => [r.id, r.claimed ? 'claimed' : r.settled ? 'settled' : r.cancel ? 'cancel' : 'busy'] as const));
  return ids.map((id) => byId.get(id) ?? 'settled');
}

/**
 * Claims still held by running attempts made fresh (`claimed_at = now()`): what BullMQ's lock renewal
 * is to a queued job, for attempts started without one (workers/local-start.ts), so that neither
 * another claim nor the reconciler takes a row whose attempt is alive.
 */
export async function refreshClaims(db: Db, ids: string[]): Promise<void> {
  await db.execute(sql`update generations set claimed_at = now() where id = any(${sql.param(ids)}::text[]) and status = 'active'`);
}

/** A claim whose attempt never started (the worker is shutting down): undone, attempt count included. */
export async function handBack(db: Db, id: string): Promise<void> {
  await db.execute(sql`
    update generations set attempts = attempts - 1, status = case when attempts > 1 then 'failed' else 'queued' end
    where id = ${id} and status = 'active'`);
}

/** An `active` row whose job has ended in BullMQ (so no run holds it) made claimable again, as `failed`. */
export async function unclaim(db: Db, id: string): Promise<void> {
  await db.update(generations).set({ status: 'failed' }).where(and(eq(generations.id, id), eq(generations.status, 'active')));
}

