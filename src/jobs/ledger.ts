import type { Scope } from '../auth/caller.js';
import { Batcher } from '../db/batcher.js';
import type { Db } from '../db/client.js';
import type { GenerationRow, Priority } from '../db/schema.js';
import { admitRows, type Admission, type AdmitOutcome } from './admit.js';
import { cancelQueuedRows, cancelRow, overdueRows } from './cancel-rows.js';
import { claimRows, handBack, refreshClaims, unclaim, type Claim } from './claim.js';
import { completeRows, type Completed, type Completion } from './complete.js';
import { failRow, type Failed, type FailOutcome } from './fail.js';
import { forgetRow } from './forget.js';
import { noteRouteStep } from './route-log.js';
import type { RouteStep } from '../llm/result.js';
import { requeueRow } from './replay.js';
import { answerOf, answersOf, expire, expireMany, hashesOf, join, type SlotAnswer } from './slots.js';

export type { Admission, AdmitOutcome } from './admit.js';
export type { Claim } from './claim.js';
export type { Completed, Completion } from './complete.js';
export type { Failed, FailOutcome } from './fail.js';
export type { SlotAnswer } from './slots.js';

/**
 * The writes of the generations table: one statement per transition, each in a file of its own
 * (admit, claim, complete, fail, cancel-rows, replay, slots), the hot ones coalesced across
 * concurrent callers into one statement (see Batcher). Admission and every settling write change
 * the generation row and its input's slot (`input_slots`) in the same statement, so the slot
 * always tells the truth about its input: in flight, completed and fresh until `expires_at`, or
 * open. Every write is guarded by the in-flight statuses, so it can neither resurrect a settled
 * row nor settle one twice.
 */
export class Ledger {
  readonly #admit: Batcher<Admission, AdmitOutcome>;
  readonly #claim: Batcher<string, Claim>;
  readonly #complete: Batcher<Completion, Completed | undefined>;

  /**
   * @param staleClaimMs - how old an `active` row's claim must be before another run may take it:
   * the BullMQ lock (WORKER_LOCK_DURATION_MS), after which a run that stopped renewing it is dead.
   * @defaultValue 30000
   */
  constructor(private readonly db: Db, readonly staleClaimMs = 30_000) {
    this.#admit = new Batcher((rows) => admitRows(db, rows), { maxInFlight: 4 });
    this.#claim = new Batcher((ids) => claimRows(db, ids, this.staleClaimMs), { maxInFlight: 4 });
    this.#complete = new Batcher((items) => completeRows(db, items), { maxInFlight: 4 });
  }

  /**
   * Inserts a `queued` row holding its input's slot; false when the input is in flight or has a fresh result;
   * `budgeted` (only for a row `unlessBudgeted`) when a budget applies to it, which must be held first.
   */
  admit(row: Admission): Promise<AdmitOutcome> {
    return this.#admit.push(row);
  }

  /**
   * `admit` for many rows at once (a batch): statements of up to 2,000 rows, each one multi-row
   * INSERT as `admit` runs, without waiting for the Batcher's turns.
   */
  async admitMany(rows: Admission[]): Promise<boolean[]> {
    const out: boolean[] = [];
    for (let i = 0; i < rows.length; i += 2000) out.push(...(await admitRows(this.db, rows.slice(i, i + 2000))).map((o) => o === true));
    return out;
  }

  /** What holds an input's slot when `admit` said no; undefined when the slot opened meanwhile (admit again). */
  answerOf(inputHash: string): Promise<SlotAnswer | undefined> {
    return answerOf(this.db, inputHash);
  }

  /** `answerOf` for many inputs in one statement: what holds each slot that answers now (absent: none). */
  answersOf(inputHashes: string[]): Promise<Map<string, SlotAnswer>> {
    return answersOf(this.db, inputHashes);
  }

  /**
   * Another request is answered by the in-flight generation `id`: one more subscriber; its class
   * raised to `priority` when higher; its deadline the later of both. Undefined when the row settled meanwhile.
   */
  join(id: string, priority: Priority, cancelAt: Date | null): Promise<{ raised: boolean; status: string } | undefined> {
    return join(this.db, id, priority, cancelAt);
  }

  /**
   * Marks an attempt started (`active`, attempts + 1, `claimed_at`): `claimed`; `settled` when the row
   * already completed, died or was canceled; `busy` when another run holds it (a duplicate of the job, after Redis
   * lost it), so that two runs never call the provider for one generation at once; `cancel` when a cancel
   * or its `Cancel-After` deadline reached it and it is still in flight (the caller settles it `canceled`).
   */
  claim(id: string): Promise<Claim> {
    return this.#claim.push(id);
  }

  /** The claims of attempts still running, made fresh (see `refreshClaims`). */
  refreshClaims(ids: string[]): Promise<void> {
    return refreshClaims(this.db, ids);
  }

  /** A claim whose attempt never started (the worker is shutting down): undone, attempt count included. */
  handBack(id: string): Promise<void> {
    return handBack(this.db, id);
  }

  /** An `active` row whose job has ended in BullMQ (so no run holds it) made claimable again, as `failed`. */
  unclaim(id: string): Promise<void> {
    return unclaim(this.db, id);
  }

  /** Stores the result, once, and makes it the answer of its input until the TTL; undefined when the row had already settled. */
  complete(c: Completion): Promise<Completed | undefined> {
    return this.#complete.push(c);
  }

  /** Records a failed attempt (and what it cost); a final one settles the row `dead` and opens its slot. */
  fail(f: Failed): Promise<FailOutcome> {
    return failRow(this.db, f);
  }

  /**
   * A caller gives up on the generation `id`: `detached` when others still wait for it; `canceled`
   * when no attempt holds it; `aborting` when an attempt runs (its worker aborts the call and
   * settles the row); `settled` when it had ended.
   */
  cancel(id: string): Promise<'detached' | 'canceled' | 'aborting' | 'settled'> {
    return cancelRow(this.db, id);
  }

  /** Generations of a batch that never started, settled `canceled` in one statement; resolves to the ids canceled. */
  cancelQueued(ids: string[]): Promise<string[]> {
    return cancelQueuedRows(this.db, ids);
  }

  /** Rows past their `Cancel-After` deadline that no attempt holds, for the sweeper to cancel (oldest first). */
  overdue(limit = 500): Promise<string[]> {
    return overdueRows(this.db, limit);
  }

  /** A dead generation queued again (replay), unless another generation of its input is in flight (that one's id). */
  requeue(id: string, scope: Scope): Promise<{ row: GenerationRow } | { inFlight: string } | undefined> {
    return requeueRow(this.db, id, scope);
  }

  /** The input hashes of a project's generations (one hash, when given and the project has it): what a project admin's cache clear may touch. */
  hashesOf(projectId: string, inputHash?: string): Promise<string[]> {
    return hashesOf(this.db, projectId, inputHash);
  }

  /** Opens the completed slots of `hashes` (see `expire`). */
  expireMany(hashes: string[]): Promise<void> {
    return expireMany(this.db, hashes);
  }

  /** Cached results stop answering (admin cache clear): completed slots, of one input or all, open. */
  expire(inputHash?: string): Promise<void> {
    return expire(this.db, inputHash);
  }

  /** Marks a settled row of `scope` deleted and opens its slot; its input hash, or undefined when there is none to forget. */
  forget(id: string, scope: Scope): Promise<string | undefined> {
    return forgetRow(this.db, id, scope);
  }

  /** Keeps a step of a model group's call that moved on from a deployment on the row (its timeline). */
  noteRoute(id: string, step: RouteStep): Promise<void> {
    return noteRouteStep(this.db, id, step);
  }
}
