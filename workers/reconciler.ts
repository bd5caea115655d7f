import type { Logger } from 'pino';
import { afterCanceled, type CancelDeps } from '../src/jobs/job-cancels.js';
import type { AfterSettle } from '../src/jobs/after-settle.js';
import type { Ledger } from '../src/jobs/ledger.js';
import type { Jobs } from '../src/jobs/service.js';
import { jobDataOf } from '../src/queue/dead-letters.js';
import { tailPriority } from '../src/queue/fairness.js';
import type { Queues } from '../src/queue/queues.js';
import type { OutcomeStash } from './outcome-stash.js';

/** Why the reconciler settled a generation `dead` (the job's `error.code`). */
export const RECONCILED_FAILURES = {
  worker_lost: 'Its worker stopped while running it more often than BullMQ allows (maxStalledCount); replay it if the input is safe',
  job_lost: 'Its job ended without recording an outcome; replay it to run again',
} as const;

/** What the reconciler saw of a job that ended while its row is still in flight, for the row's error message. */
function lostBecause(state: string, failedReason: string | undefined): string {
  if (state === 'completed') return 'its BullMQ job completed but the outcome never reached Postgres (Postgres was unreachable at the end)';
  return failedReason ? `its BullMQ job failed: ${failedReason.slice(0, 300)}` : 'its BullMQ job failed without a reason';
}

export interface ReconcilerDeps {
  jobs: Pick<Jobs, 'find' | 'inFlightBefore'>;
  ledger: Ledger;
  queues: Pick<Queues, 'generation' | 'deadLetter' | 'jobOptions'>;
  stash: OutcomeStash;
  log: Logger;
  /** Rows younger than this are left alone: their admission may still be enqueuing them. */
  graceMs: number;
  /**
   * Longest an attempt can still be running after it claimed its row (provider timeout and the
   * BullMQ lock): an `active` row whose job is missing is enqueued again only once its claim is
   * older, so a run Redis forgot is never doubled while it may still be calling the provider.
   */
  attemptMs: number;
  /** Removes the BullMQ jobs of rows canceled at their `Cancel-After` deadline, and publishes their event. */
  cancel?: CancelDeps;
  /** What follows each settlement it makes (events, webhooks, batch progress). */
  afterSettle: Pick<AfterSettle, 'settled'>;
}

/**
 * Settles what no processor will: every in-flight row (oldest 500 per pass)
 * is held against its BullMQ job. No job (admitted while Redis was away, or
 * Redis lost it): enqueued under the same id. A job that ended while its row is
 * still in flight (failed by the stalled-job check without running, or its last
 * writes lost to a Postgres outage): run again when an earlier run left a
 * paid answer in the stash, so that it is recorded without a second call; else
 * settled `dead` with `worker_lost` or `job_lost` and dead-lettered. Every write
 * is guarded by the row's status, so a pass racing a worker changes nothing
 * that worker settled.
 */
export async function reconcile(deps: ReconcilerDeps): Promise<{ enqueued: number; rerun: number; dead: number; canceled: number }> {
  const { queues, ledger, stash, log } = deps;
  const canceled = await cancelOverdue(deps);
  const rows = await deps.jobs.inFlightBefore(new Date(Date.now() - deps.graceMs), 500);
  const done = { enqueued: 0, rerun: 0, dead: 0, canceled };
  if (!rows.length) return done;
  const states = await Promise.all(rows.map((r) => queues.generation.getJobState(r.id)));
  const ranOut = Date.now() - deps.attemptMs;
  const missing = rows.filter((r, i) => states[i] === 'unknown'
    && (r.status !== 'active' || (r.claimedAt ?? r.startedAt ?? r.createdAt).getTime() < ranOut));
  if (missing.length) {
    await queues.generation.addBulk(missing.map((row) => ({ name: 'generate', data: { ...jobDataOf(row), resumed: true }, opts: queues.jobOptions(row.id, tailPriority(row.priority)) })));
    done.enqueued = missing.length;
  }
  for (const [i, row] of rows.entries()) {
    if (states[i] !== 'failed' && states[i] !== 'completed') continue;
    const job = await queues.generation.getJob(row.id);
    if (await stash.has(row.id)) {
      await ledger.unclaim(row.id); // its job has ended: no run holds the row any more
      await job?.remove();
      await queues.generation.add('generate', { ...jobDataOf(row), resumed: true }, queues.jobOptions(row.id, tailPriority(row.priority)));
      done.rerun++;
      log.warn({ jobId: row.id }, 'job ended with its paid answer unrecorded: running it again to record it');
      continue;
    }
    const code = /stalled more than allowable limit/.test(job?.failedReason ?? '') ? 'worker_lost' : 'job_lost';
    const message = code === 'job_lost' ? `${RECONCILED_FAILURES.job_lost} (${lostBecause(states[i]!, job?.failedReason)})` : RECONCILED_FAILURES[code];
    if (!(await ledger.fail({ id: row.id, final: true, code, message })).settled) continue;
    await queues.deadLetter.add('dead', { ...jobDataOf(row), error: { code, message }, attempts: row.attempts }, { jobId: row.id, removeOnComplete: true });
    await deps.afterSettle.settled({ id: row.id, status: 'dead', error: { code, message } });
    done.dead++;
    log.error({ jobId: row.id, code, reason: job?.failedReason }, 'job ended without settling its row: dead-lettered');
  }
  return done;
}

/**
 * `Cancel-After` deadlines of rows no attempt holds (queued, or waiting for a retry): settled
 * `canceled` here, since no worker may take them before the deadline passes (a running
 * attempt is aborted by its own worker's timer). Only rows still queued or failed are
 * touched, so a canceled row is never brought back.
 */
async function cancelOverdue(deps: ReconcilerDeps): Promise<number> {
  let n = 0;
  for (const id of await deps.ledger.overdue()) {
    const res = await deps.ledger.fail({ id, final: true, canceled: true, from: ['queued', 'failed'], code: 'canceled', message: '' });
    if (!res.canceled) continue;
    n++;
    const row = await deps.jobs.find(id);
    if (row && deps.cancel) await afterCanceled(deps.cancel, row);
  }
  return n;
}
