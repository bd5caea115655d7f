import { UnrecoverableError, WaitingError, type Job } from 'bullmq';
import { and, eq, inArray, sql } from 'drizzle-orm';
import type { Logger } from 'pino';
import { cachedFromRow, type ResultCache } from '../src/cache/result-cache.js';
import type { Db } from '../src/db/client.js';
import { generations, IN_FLIGHT } from '../src/db/schema.js';
import type { JobEventLog } from '../src/events/job-events.js';
import type { Ledger } from '../src/jobs/ledger.js';
import { recordAttempt, recordJobFinished } from '../src/metrics/jobs.js';
import type { UsageMeter } from '../src/usage/meter.js';
import { costUsd, priceFor, type PricingOverrides } from '../src/providers/pricing.js';
import type { Provider, ProviderName } from '../src/providers/types.js';
import type { DeadLetterData, GenerationJobData, Queues } from '../src/queue/queues.js';
import { parseOutput } from '../src/templates/output-schema.js';
import { AttemptFailed, classify, type Failure } from './failures.js';
import type { Slots } from './slots.js';

export interface ProcessorDeps {
  db: Db;
  ledger: Ledger;
  meter: UsageMeter;
  cache: ResultCache;
  queues: Pick<Queues, 'deadLetter'>;
  providers: Partial<Record<ProviderName, Provider>>;
  pricing?: PricingOverrides;
  log: Logger;
  /** Status events for GET /v1/jobs/:id/events (active, retrying, completed, dead). */
  events?: JobEventLog;
  /** Provider calls in flight (WORKER_CONCURRENCY); unlimited without. */
  slots?: Slots;
}

type Usage = { inputTokens: number; outputTokens: number };
const inFlight = (id: string) => and(eq(generations.id, id), inArray(generations.status, [...IN_FLIGHT]));

/**
 * Runs one attempt of a generation. Postgres is written before BullMQ learns
 * the outcome, and every write is guarded by the row's status, so a job that
 * a dead worker left behind is finished by another without a second result.
 */
export function createProcessor(deps: ProcessorDeps) {
  const { db, ledger, cache, meter, log } = deps;
  const cost = (d: GenerationJobData, u: Usage) => {
    const price = priceFor(d.provider, d.model, deps.pricing);
    if (!price) log.warn({ provider: d.provider, model: d.model }, 'no price for model; cost recorded as 0');
    return price ? costUsd(u, price) : 0;
  };
  /** Charges a failed attempt the provider answered (`usd` as `cost` priced it): spend counters now, and the row's columns to update. */
  const charge = (d: GenerationJobData, u: Usage | undefined, usd: number) => {
    if (!u) return {};
    meter.record({ apiKeyId: d.apiKeyId, templateId: d.templateId, ...u, costUsd: usd });
    return {
      inputTokens: sql`${generations.inputTokens} + ${u.inputTokens}`,
      outputTokens: sql`${generations.outputTokens} + ${u.outputTokens}`,
      costUsd: sql`${generations.costUsd} + ${usd}`,
    };
  };

  return processGeneration;

  async function processGeneration(job: Job<GenerationJobData>, token?: string) {
    const release = deps.slots ? await deps.slots.acquire() : () => {};
    if (!release) {
      // The worker is shutting down and this job never started: back to the queue, for any worker.
      await job.moveToWait(token);
      throw new WaitingError();
    }
    try {
      return await attempt(job, release);
    } finally {
      release();
    }
  }

  /** One attempt; `release` frees the provider slot, as soon as the provider has answered. */
  async function attempt(job: Job<GenerationJobData>, release: () => void) {
    const d = job.data;
    const jlog = log.child({ jobId: d.id, requestId: d.requestId, attempt: job.attemptsMade + 1, provider: d.provider, model: d.model });
    // On a job's first start no earlier run can have settled its row, so the claim may travel while the
    // provider works (it lands before the completion). Any later start — a retry, or a run after a
    // worker died — must learn first whether the row settled, or it could pay for the answer twice.
    const claimed = ledger.claim(d.id);
    if (job.attemptsStarted > 1 && !(await claimed)) return finishedElsewhere(d, jlog);
    claimed.catch(() => {});
    // Not awaited: it goes out on the command connection ahead of this job's later events.
    void deps.events?.publish(d.id, 'active', { attempt: job.attemptsMade + 1 });

    const started = performance.now();
    let usage: Usage | undefined;
    try {
      const provider = deps.providers[d.provider];
      if (!provider) throw new AttemptFailed('provider_unavailable', d.provider);
      const out = await provider.generate({
        model: d.model,
        prompt: d.prompt,
        ...(d.system ? { system: d.system } : {}),
        maxTokens: d.maxTokens,
        ...(d.temperature !== null ? { temperature: d.temperature } : {}),
        ...(d.outputSchema ? { jsonSchema: d.outputSchema } : {}),
      });
      release();
      usage = { inputTokens: out.inputTokens, outputTokens: out.outputTokens };
      if (out.stopReason === 'max_tokens') throw new AttemptFailed('output_truncated', undefined, usage);
      if (out.stopReason === 'refusal') throw new AttemptFailed('provider_refusal', undefined, usage);
      let json: unknown;
      if (d.outputSchema) {
        const parsed = parseOutput(out.text, d.outputSchema);
        if (!parsed.ok) throw new AttemptFailed('output_invalid', parsed.reason, usage);
        json = parsed.json;
      }
      const usd = cost(d, usage);
      if (!(await claimed)) return finishedElsewhere(d, jlog);
      const done = await ledger.complete({ id: d.id, text: out.text, json, ...usage, costUsd: usd });
      if (!done) return finishedElsewhere(d, jlog);
      meter.record({ apiKeyId: d.apiKeyId, templateId: d.templateId, ...usage, costUsd: usd });
      jlog.info({ ...usage, costUsd: done.costUsd, durationMs: Math.round(performance.now() - started) }, 'job completed');
      recordAttempt(d, 'success', started, usage, usd);
      recordJobFinished('completed', job.timestamp);
      await Promise.all([
        cache.set(d.inputHash, {
          jobId: d.id,
          result: { text: out.text, ...(json !== undefined ? { json } : {}) },
          usage: { inputTokens: done.inputTokens, outputTokens: done.outputTokens, totalTokens: done.inputTokens + done.outputTokens },
          costUsd: done.costUsd, provider: d.provider, model: d.model, storedAt: done.completedAt.getTime(),
        }, d.cacheTtlSeconds, d.refresh),
        deps.events?.publish(d.id, 'completed', { attempt: job.attemptsMade + 1 }),
      ]);
      return { completed: true };
    } catch (err) {
      release();
      const f = classify(err);
      const final = !f.retryable || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      const paid = f.usage ?? (err instanceof AttemptFailed ? undefined : usage);
      const paidUsd = paid ? cost(d, paid) : 0;
      await claimed.catch(() => false); // the claim must land first, or it would turn `failed` back into `active`
      await recordFailure(job, f, final, charge(d, paid, paidUsd));
      jlog.warn({ code: f.code, err: f.message, final, durationMs: Math.round(performance.now() - started) }, final ? 'job dead' : 'attempt failed, will retry');
      recordAttempt(d, f.code, started, paid, paidUsd);
      if (final) recordJobFinished('dead', job.timestamp);
      await deps.events?.publish(d.id, final ? 'dead' : 'retrying', { attempt: job.attemptsMade + 1, error: { code: f.code, message: f.message } });
      if (final) throw new UnrecoverableError(`${f.code}: ${f.message}`);
      throw err;
    }
  }

  async function recordFailure(job: Job<GenerationJobData>, f: Failure, final: boolean, usage: object) {
    const d = job.data;
    await db
      .update(generations)
      .set({ status: final ? 'dead' : 'failed', errorCode: f.code, errorMessage: f.message, ...(final ? { completedAt: new Date() } : {}), ...usage })
      .where(inFlight(d.id));
    if (final) await deadLetter(d, f, job.attemptsMade + 1);
  }

  async function deadLetter(d: GenerationJobData, f: Pick<Failure, 'code' | 'message'>, attempts: number) {
    const data: DeadLetterData = { ...d, error: { code: f.code, message: f.message }, attempts };
    await deps.queues.deadLetter.add('dead', data, { jobId: d.id, removeOnComplete: true });
  }

  /** The row already settled (an earlier run of this job got that far): make the rest true, once. */
  async function finishedElsewhere(d: GenerationJobData, jlog: Logger) {
    const [row] = await db.select().from(generations).where(eq(generations.id, d.id));
    if (row?.status === 'completed') {
      jlog.info('already completed by an earlier run; not calling the provider again');
      const entry = cachedFromRow(row, d.cacheTtlSeconds);
      if (entry.expiresAt > Date.now()) await cache.set(d.inputHash, entry, Math.ceil((entry.expiresAt - Date.now()) / 1000));
      return { completed: true };
    }
    if (row?.status === 'dead') {
      await deadLetter(d, { code: row.errorCode ?? 'internal_error', message: row.errorMessage ?? '' }, row.attempts);
      throw new UnrecoverableError(`${row.errorCode}: ${row.errorMessage}`);
    }
    throw new UnrecoverableError(`generation ${d.id} has no row`);
  }
}
