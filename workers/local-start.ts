import { DelayedError, UnrecoverableError, WaitingError, type Job } from 'bullmq';
import type { Logger } from 'pino';
import type { Config } from '../src/config/index.js';
import type { LocalRun, LocalStart } from '../src/generation/local.js';
import type { Generation } from '../src/generation/service.js';
import type { Ledger } from '../src/jobs/ledger.js';
import { forQueue, type GenerationJobData, type Queues } from '../src/queue/queues.js';
import { SETTLED_EVENT } from '../src/queue/waiter.js';
import type { RedisClient } from '../src/redis/client.js';
import { backoffDelay } from './failures.js';
import type { Slots } from './slots.js';

export interface LocalStartDeps {
  /** The processor's `runClaimed`: an attempt of a row already claimed, on a slot already held. */
  run(job: Job<GenerationJobData>, held: () => void): Promise<unknown>;
  /** The worker's provider slots: a job is started here only on one that is free now. */
  slots: Slots;
  queues: Pick<Queues, 'generation' | 'jobOptions'>;
  ledger: Pick<Ledger, 'refreshClaims' | 'staleClaimMs'>;
  config: Pick<Config, 'JOB_BACKOFF_MS'>;
  /** Tells every process's JobWaiter that a run settled its generation: what BullMQ's `completed`/`failed` event is for a queued job. */
  announce(id: string): Promise<void>;
  log: Logger;
}

/**
 * LOCAL_START: a process that runs the API and a worker starts a generation it has just admitted
 * itself, when one of its provider slots is free, instead of handing it to BullMQ and back. Its
 * row was admitted already claimed (`active`, attempts 1, `claimed_at`), so the first attempt needs
 * no claim and no queue: the row is the durable record. Every other way on goes through BullMQ:
 * a retry (after its backoff, the attempt counted in `priorAttempts`), a hand-back (shutdown, no
 * deployment with capacity), an answer whose write failed (stashed). If the process dies mid-run,
 * the row stays `active` with a claim no one renews: the reconciler enqueues it once the claim is
 * older than an attempt can last, and its run finds what the stash holds. While a run lasts, its
 * claim is made fresh every half lock (WORKER_LOCK_DURATION_MS), as BullMQ renews a job's lock.
 * Runs started here are not BullMQ jobs: Bull Board and the queue's counts do not show them.
 */
export class LocalStarts implements LocalStart {
  readonly #running = new Map<string, Promise<void>>();
  readonly #refresh: NodeJS.Timeout;
  #closed = false;

  constructor(private readonly deps: LocalStartDeps) {
    this.#refresh = setInterval(() => {
      if (!this.#running.size) return;
      deps.ledger.refreshClaims([...this.#running.keys()]).catch((err) => deps.log.warn({ err: String(err) }, 'claims of local runs not refreshed'));
    }, deps.ledger.staleClaimMs / 2);
    this.#refresh.unref();
  }

  reserve(): LocalRun | undefined {
    const held = this.#closed ? undefined : this.deps.slots.tryAcquire();
    if (!held) return undefined;
    let started = false;
    return {
      start: (data, priority) => {
        started = true;
        this.#start(data, priority, held);
      },
      release: () => { if (!started) held(); },
    };
  }

  /** Stops starting runs and waits for those in flight (their retries are queued). */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#refresh);
    while (this.#running.size) await Promise.all([...this.#running.values()]);
  }

  #start(data: GenerationJobData, priority: number, held: () => void): void {
    let movedTo: number | undefined;
    // What the processor reads of a BullMQ job: the first attempt, not yet in any queue.
    const job = {
      id: data.id, name: 'generate', data, attemptsMade: 0, attemptsStarted: 1, timestamp: Date.now(),
      opts: this.deps.queues.jobOptions(data.id, priority),
      moveToDelayed: async (at: number) => { movedTo = at; },
      moveToWait: async () => { movedTo = Date.now(); },
    } as unknown as Job<GenerationJobData>;
    const run = this.deps.run(job, held).then(() => this.#announce(data.id), (err: unknown) => {
      if (err instanceof UnrecoverableError) return this.#announce(data.id); // settled (dead) and dead-lettered by the processor
      // Handed back (its claim undone): queued as it was. Else a failed attempt, or an answer not recorded: the next one after the backoff.
      if (err instanceof DelayedError || err instanceof WaitingError) return this.#queue(job.data, priority, Math.max(0, (movedTo ?? 0) - Date.now()), 0);
      return this.#queue(job.data, priority, backoffDelay(1, this.deps.config.JOB_BACKOFF_MS, err as Error), 1);
    }).finally(() => this.#running.delete(data.id));
    this.#running.set(data.id, run);
  }

  async #announce(id: string): Promise<void> {
    await this.deps.announce(id).catch((err: unknown) => this.deps.log.warn({ err: String(err), jobId: id }, 'settlement not announced: requests waiting on it read the row at their deadline'));
  }

  async #queue(data: GenerationJobData, priority: number, delay: number, prior: number): Promise<void> {
    const opts = this.deps.queues.jobOptions(data.id, priority);
    try {
      await this.deps.queues.generation.add('generate', { ...forQueue(data), ...(prior ? { priorAttempts: prior } : {}) },
        { ...opts, delay, attempts: Math.max(1, (opts.attempts ?? 1) - prior) });
    } catch (err) {
      this.deps.log.error({ err: String(err), jobId: data.id }, 'a local run could not queue its next attempt; the reconciler enqueues it once Redis answers');
    }
  }
}

/**
 * Local starts for `generation`'s admissions, announcing each settlement on the queue's event stream
 * as the custom event `settled` (what BullMQ's QueueEventsProducer writes, here on the command
 * connection, pipelined with the run's other commands); `close()` detaches them and waits for the runs.
 */
export function startLocal(deps: Omit<LocalStartDeps, 'announce'> & { generation: Generation; redis: RedisClient }): { close(): Promise<void> } {
  const stream = deps.queues.generation.keys.events!;
  const local = new LocalStarts({ ...deps, announce: async (jobId) => void (await deps.redis.xadd(stream, 'MAXLEN', '~', '10000', '*', 'event', SETTLED_EVENT, 'jobId', jobId)) });
  const detach = deps.generation.runHere(local);
  return {
    async close() {
      detach();
      await local.close();
    },
  };
}
