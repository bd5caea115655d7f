import { stage } from '../src/telemetry/stages.js';
import { DelayedError, UnrecoverableError, WaitingError, type Job, type Queue } from 'bullmq';
import type { Logger } from 'pino';
import { cachedFromRow, type ResultCache } from '../src/cache/result-cache.js';
import type { JobEventLog } from '../src/events/job-events.js';
import { messagesOf, requestOf } from '../src/llm/stored.js';
import type { AfterSettle } from '../src/jobs/after-settle.js';
import type { Completed, Ledger } from '../src/jobs/ledger.js';
import type { Jobs } from '../src/jobs/service.js';
import { recordAttempt, recordJobFinished } from '../src/metrics/jobs.js';
import type { CancelSignals } from '../src/queue/cancels.js';
import type { Fairness } from '../src/queue/fairness.js';
import { forQueue, type GenerationJobData, type Queues } from '../src/queue/queues.js';
import type { TokenLimiter } from '../src/ratelimit/tokens.js';
import { worstCaseUsd } from '../src/spend/budgets.js';
import { cacheEmbeddings } from './embeddings-cache.js';
import { classify, type Failure } from './failures.js';
import { WaitForCapacity } from '../src/routing/group-provider.js';
import type { Outcome, OutcomeStash } from './outcome-stash.js';
import { providerCall, type ProviderCallDeps } from './provider-call.js';
import type { Slots } from './slots.js';
import { tracedJob } from '../src/telemetry/tracing.js';

export interface ProcessorDeps extends ProviderCallDeps {
  /** The generation's row, as it stands (a deadline moved by a joiner, the tokens used, a settlement made elsewhere). */
  jobs: Pick<Jobs, 'find'>;
  ledger: Ledger;
  cache: ResultCache;
  queues: Pick<Queues, 'deadLetter'>;
  log: Logger;
  /** Status events for GET /v1/jobs/:id/events while a job runs (active, delta, retrying); the final one follows the settlement. */
  events?: JobEventLog;
  /** What follows a settlement: the final event, webhooks, batch progress. */
  afterSettle: Pick<AfterSettle, 'settled'>;
  /** Provider calls in flight (WORKER_CONCURRENCY); unlimited without. */
  slots?: Slots;
  /** Answers paid for whose write failed, for the next run to record. */
  stash: OutcomeStash;
  /** Sets a job's token hold (GenerationJobData.tpm) to the tokens used once it settles. */
  tokens: Pick<TokenLimiter, 'reconcile'>;
  /** Advances the class clock of each job that starts (fair queuing); none: no fairness bookkeeping. */
  fairness?: { service: Fairness; queue: Queue<GenerationJobData> };
  /** Abort signals of running attempts, fired by cancels; none: attempts cannot be aborted. */
  cancels?: CancelSignals;
}

/** The attempt a run of `job` is, counting those made before it was queued. */
const attemptOf = (job: Job<GenerationJobData>) => (job.data.priorAttempts ?? 0) + job.attemptsMade + 1;

/**
 * Runs one attempt of a generation. Postgres is written before BullMQ learns
 * the outcome, and every write is guarded by the row's status, so a job that
 * a dead worker left behind is finished by another without a second result.
 */
export function createProcessor(deps: ProcessorDeps) {
  const { ledger, cache, log } = deps;
  const { ask, cost } = providerCall(deps);
  // Each attempt a span continuing its admission's trace (the job carries it), when tracing.
  const traced = (job: Job<GenerationJobData>, run: () => Promise<unknown>) =>
    tracedJob(job.data.trace, () => ['promptlab.attempt', { 'promptlab.job_id': job.data.id, 'promptlab.attempt': attemptOf(job) }], run);
  return {
    /** BullMQ's processor: claims the row, waits for a provider slot, runs the attempt. */
    process: (job: Job<GenerationJobData>, token?: string) => traced(job, () => processGeneration(job, token)),
    /**
     * The first attempt of a job whose row the admission already claimed, on a provider slot
     * already held (`held`, released here): what `process` does after its claim (workers/local-start.ts).
     */
    runClaimed: (job: Job<GenerationJobData>, held: () => void) => traced(job, () => processGeneration(job, undefined, held)),
  };

  async function processGeneration(job: Job<GenerationJobData>, token?: string, held?: () => void) {
    const d = job.data;
    if (!held) stage(d.id, 'picked');
    const jlog = log.child({ jobId: d.id, requestId: d.requestId, attempt: attemptOf(job), provider: d.provider, model: d.model });
    // The claim lands before the provider is called, on every start: it is what keeps a second run of the
    // same generation (a duplicate enqueued after Redis lost the job) from paying for it again. Taken
    // before waiting for a provider slot, so its round trip never holds a slot.
    // Tracked before the claim: a cancel marked on the row after the claim always finds the signal.
    const tracked = deps.cancels?.track(d.id);
    let deadline: NodeJS.Timeout | undefined;
    try {
      const claim = held ? 'claimed' : await ledger.claim(d.id);
      stage(d.id, 'claimed');
      if (claim === 'settled') return await finishedElsewhere(d, jlog);
      if (claim === 'cancel') return await canceled(job, ledger.fail({ id: d.id, final: true, canceled: true, code: 'canceled', message: '' }), jlog);
      if (claim === 'busy') {
        jlog.warn('another run holds this generation; trying again once its claim can have lapsed');
        await job.moveToDelayed(Date.now() + ledger.staleClaimMs, token);
        throw new DelayedError();
      }
      // Large messages stayed in the row (forQueue): read them once, here, for this run only (never written back to Redis).
      if (d.messagesInRow) job.data = await withMessages(d);
      if (deps.fairness) void deps.fairness.service.started(d.fair, deps.fairness.queue).catch((err) => jlog.warn({ err: String(err) }, 'fair-queue clock not advanced'));
      if (d.cancelAt !== undefined) deadline = armDeadline(d.id, d.cancelAt);
      const release = held ?? (deps.slots ? await deps.slots.acquire() : () => {});
      if (!release) {
        // The worker is shutting down and this job never started: back to the queue, for any worker.
        await ledger.handBack(d.id);
        await job.moveToWait(token);
        throw new WaitingError();
      }
      try {
        return await attempt(job, release, jlog, tracked?.signal);
      } catch (err) {
        if (!(err instanceof WaitForCapacity)) throw err;
        // No deployment of its model group can take it now (cooling down, or their accounts' RPM/TPM are
        // full): back to the queue until one can, this run undone, no attempt spent, nothing sent.
        jlog.info({ until: new Date(err.untilMs).toISOString() }, 'waiting for deployment capacity');
        await ledger.handBack(d.id);
        await job.moveToDelayed(Math.max(err.untilMs, Date.now() + 1), token);
        throw new DelayedError();
      } finally {
        release();
      }
    } finally {
      held?.(); // a held slot is freed on every way out (once: release is idempotent)
      clearTimeout(deadline);
      tracked?.done();
    }
  }

  /** The job's data with the messages its row holds. */
  async function withMessages(d: GenerationJobData): Promise<GenerationJobData> {
    const row = await deps.jobs.find(d.id);
    if (!row) throw new UnrecoverableError(`generation ${d.id} has no row to read its messages from`);
    return { ...d, messages: messagesOf(row) };
  }

  /**
   * `Cancel-After`: at the deadline the row is read again (a joiner may have moved or lifted it)
   * and the attempt aborted if it has passed; its failure then settles the row `canceled`.
   */
  function armDeadline(id: string, at: number): NodeJS.Timeout {
    const timer = setTimeout(async () => {
      try {
        const row = await deps.jobs.find(id);
        if (!row?.cancelAt) return;
        if (row.cancelAt.getTime() <= Date.now()) deps.cancels?.abort(id);
        else armDeadline(id, row.cancelAt.getTime()).unref();
      } catch (err) {
        log.warn({ err: String(err), jobId: id }, 'Cancel-After deadline not checked');
      }
    }, Math.max(0, at - Date.now()));
    timer.unref();
    return timer;
  }

  /** One attempt; `release` frees the provider slot, as soon as the provider has answered. */
  async function attempt(job: Job<GenerationJobData>, release: () => void, jlog: Logger, signal?: AbortSignal) {
    const d = job.data;
    // A retry, a run after a worker died, or one the reconciler started may find an answer an earlier run was paid for.
    const rerun = job.attemptsStarted + (d.priorAttempts ?? 0) > 1 || d.resumed === true;
    const stashed = rerun ? await deps.stash.get(d.id) : undefined;
    // Not awaited: it goes out on the command connection ahead of this job's later events.
    void deps.events?.publish(d.id, 'active', { attempt: attemptOf(job) });

    const started = performance.now();
    let out: Outcome;
    try {
      out = stashed ?? (await ask(d, release, signal));
    } catch (err) {
      release();
      if (err instanceof WaitForCapacity) throw err;
      return failed(job, err, started, jlog, signal?.aborted === true);
    }
    release();
    if (stashed) jlog.info('writing the answer an earlier run was paid for and could not record');
    else recordAttempt(d, 'success', started, out, out.costUsd);

    let done: Completed | undefined;
    try {
      done = await ledger.complete({ id: d.id, ...out });
    } catch (err) {
      // Paid for and not recorded (Postgres unreachable): keep the answer for the next run, which writes it.
      if (!stashed) await deps.stash.save(d.id, out);
      throw err;
    }
    if (stashed) void deps.stash.drop(d.id);
    if (!done) return finishedElsewhere(d, jlog);
    jlog.info({ inputTokens: out.inputTokens, outputTokens: out.outputTokens, costUsd: done.costUsd, durationMs: Math.round(performance.now() - started) }, 'job completed');
    recordJobFinished('completed', job.timestamp);
    await Promise.all([
      // An embedding is cached text by text (what POST /v1/embeddings looks up), not as the job's whole input.
      d.options?.embed ? cacheEmbeddings(cache, d, out, done) : cache.set(d.inputHash, {
        jobId: d.id,
        result: { text: out.text, ...(out.json !== undefined ? { json: out.json } : {}), ...(out.extra ? { extra: out.extra } : {}) },
        finishReason: out.finishReason,
        usage: {
          inputTokens: done.inputTokens, outputTokens: done.outputTokens, totalTokens: done.inputTokens + done.outputTokens,
          ...(out.cacheReadTokens ? { cacheReadTokens: out.cacheReadTokens } : {}), ...(out.cacheWriteTokens ? { cacheWriteTokens: out.cacheWriteTokens } : {}),
          ...(out.reasoningTokens ? { reasoningTokens: out.reasoningTokens } : {}),
        },
        costUsd: done.costUsd, provider: d.provider, model: d.model, storedAt: done.completedAt.getTime(),
      }, d.cacheTtlSeconds, d.refresh),
      reconcileTokens(d, done.inputTokens + done.outputTokens),
      deps.afterSettle.settled({ id: d.id, status: 'completed', attempt: attemptOf(job) }),
    ]);
    return { completed: true };
  }

  /**
   * Sets the job's token hold to what the provider really used over all its
   * attempts, once the job settles; a retry keeps the hold as it is, since the
   * window counts the tokens a key sends to providers and each attempt sends
   * its input again. Never fails the job: the limiter logs its own errors.
   */
  async function reconcileTokens(d: GenerationJobData, used?: number): Promise<void> {
    if (!d.tpm) return;
    try {
      const tokens = used ?? (await tokensUsed(d.id));
      await deps.tokens.reconcile(d.apiKeyId, d.tpm, tokens);
    } catch (err) {
      log.warn({ err: String(err), jobId: d.id }, 'token hold not reconciled; it stands at the estimate until it leaves the window');
    }
  }

  /** Tokens the row recorded over every attempt (a failed attempt's are added when it is recorded). */
  async function tokensUsed(id: string): Promise<number> {
    const row = await deps.jobs.find(id);
    return row ? row.inputTokens + row.outputTokens : 0;
  }

  /** A failed attempt: recorded on the row with what it cost; the last one dead-letters the job. */
  async function failed(job: Job<GenerationJobData>, err: unknown, started: number, jlog: Logger, aborted = false) {
    const d = job.data;
    const f = classify(err);
    const final = aborted || !f.retryable || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
    const paid = f.usage ? { ...f.usage, ...cost(d, f.usage) } : undefined;
    const again = final ? undefined : worstCaseUsd(deps.registry.price(d.provider, d.model), requestOf(d));
    // An abort here is a cancel (or its deadline): the row settles `canceled`, charged what the provider reported.
    const settling = ledger.fail({ id: d.id, final, canceled: aborted, code: f.code, message: f.message, ...(paid ? { paid } : {}), ...(again !== undefined ? { again } : {}) });
    const res = await settling;
    if (res.canceled) {
      recordAttempt(d, 'canceled', started, f.usage, paid?.costUsd ?? 0);
      return canceled(job, settling, jlog);
    }
    if (res.overBudget) return overBudget(job, jlog);
    const error = { code: f.code, message: f.message };
    if (final && res.settled) {
      await Promise.all([deadLetter(d, f, attemptOf(job)), reconcileTokens(d), deps.afterSettle.settled({ id: d.id, status: 'dead', attempt: attemptOf(job), error })]);
    }
    jlog.warn({ code: f.code, err: f.message, final, durationMs: Math.round(performance.now() - started) }, final ? 'job dead' : 'attempt failed, will retry');
    recordAttempt(d, f.code, started, f.usage, paid?.costUsd ?? 0);
    if (final) recordJobFinished('dead', job.timestamp);
    else await deps.events?.publish(d.id, 'retrying', { attempt: attemptOf(job), error });
    if (final) throw new UnrecoverableError(`${f.code}: ${f.message}`);
    throw err;
  }

  /**
   * The row settled `canceled` (`settling`: the write that did it): nothing is cached or
   * dead-lettered, the token hold comes down to what was used, the job ends without a retry.
   */
  async function canceled(job: Job<GenerationJobData>, settling: ReturnType<Ledger['fail']>, jlog: Logger) {
    const d = job.data;
    const res = await settling;
    if (!res.canceled) return finishedElsewhere(d, jlog);
    jlog.info('job canceled');
    await Promise.all([reconcileTokens(d), deps.afterSettle.settled({ id: d.id, status: 'canceled', attempt: attemptOf(job) })]);
    return { canceled: true };
  }

  /** A retry its budgets could no longer hold: the row is already `dead` (budget_exceeded); no further attempt. */
  async function overBudget(job: Job<GenerationJobData>, jlog: Logger): Promise<never> {
    const d = job.data;
    const error = { code: 'budget_exceeded', message: 'A retry was due, but a budget this generation falls under can no longer hold its worst case' };
    await Promise.all([deadLetter(d, error, attemptOf(job)), reconcileTokens(d), deps.afterSettle.settled({ id: d.id, status: 'dead', attempt: attemptOf(job), error })]);
    jlog.warn({ code: error.code }, 'job dead');
    recordJobFinished('dead', job.timestamp);
    throw new UnrecoverableError(`${error.code}: ${error.message}`);
  }

  async function deadLetter(d: GenerationJobData, f: Pick<Failure, 'code' | 'message'>, attempts: number) {
    await deps.queues.deadLetter.add('dead', { ...forQueue(d), error: { code: f.code, message: f.message }, attempts }, { jobId: d.id, removeOnComplete: true });
  }

  /** The row already settled (an earlier run of this job got that far): make the rest true, once. */
  async function finishedElsewhere(d: GenerationJobData, jlog: Logger) {
    const row = await deps.jobs.find(d.id);
    if (row?.status === 'completed') {
      jlog.info('already completed by an earlier run; not calling the provider again');
      const entry = cachedFromRow(row, d.cacheTtlSeconds);
      if (entry.expiresAt > Date.now()) await cache.set(d.inputHash, entry, Math.ceil((entry.expiresAt - Date.now()) / 1000));
      await deps.afterSettle.settled({ id: d.id, status: 'completed', again: true });
      return { completed: true };
    }
    if (row?.status === 'dead') {
      await deps.afterSettle.settled({ id: d.id, status: 'dead', again: true });
      await deadLetter(d, { code: row.errorCode ?? 'internal_error', message: row.errorMessage ?? '' }, row.attempts);
      throw new UnrecoverableError(`${row.errorCode}: ${row.errorMessage}`);
    }
    if (row?.status === 'canceled') return { canceled: true };
    // Admitted by a PromptLab on another database that shares this Redis prefix (which boot now refuses), or its row was deleted.
    throw new UnrecoverableError(`generation ${d.id} has no row in this worker's database (was it admitted by a PromptLab on another database with the same REDIS_PREFIX?)`);
  }
}
