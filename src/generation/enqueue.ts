import { stage } from '../telemetry/stages.js';
import type { Logger } from 'pino';
import type { Priority } from '../db/schema.js';
import type { JobEventLog } from '../events/job-events.js';
import { tailPriority, type Fairness } from '../queue/fairness.js';
import { ENQUEUE_WAIT_MS, forQueue, type FairSlot, type GenerationJobData, type Queues } from '../queue/queues.js';
import { TIMED_OUT, within } from '../util/within.js';
import { traced } from '../telemetry/tracing.js';
import type { LocalRun, LocalStart } from './local.js';

/** Who asks for a generation, in which class, and until when. */
export interface Join {
  apiKeyId: string;
  priority: Priority;
  cancelAt: Date | null;
}

export interface EnqueueDeps {
  queues: Queues;
  fairness: Fairness;
  log: Logger;
  /** Where the `queued` event of an admitted job goes (GET /v1/jobs/:id/events). */
  events?: JobEventLog;
}

/**
 * Sends an admitted generation on its way, after its row is written: started in this process on a
 * provider slot it reserved before the admission (LOCAL_START), or put on its BullMQ queue at its
 * fair place. Redis is never what an admission waits on past ENQUEUE_WAIT_MS: the row is the record,
 * and the workers' reconciler enqueues an in-flight row Redis never took.
 */
export class Enqueuer {
  #local: LocalStart | undefined;

  constructor(private readonly deps: EnqueueDeps) {}

  /** Attaches the in-process worker's local starts (LOCAL_START); returns what detaches them (the worker is closing). */
  runHere(local: LocalStart): () => void {
    this.#local = local;
    return () => { if (this.#local === local) this.#local = undefined; };
  }

  /** A provider slot of this process for a generation about to be admitted, when one is free (see LocalStart). */
  reserve(): LocalRun | undefined {
    return this.#local?.reserve();
  }

  /**
   * An admitted generation on its way, after its `queued` event (sent first, so it precedes the run's
   * events): run here on the slot `local` holds (its row admitted claimed: no queue, no claim), else
   * added to BullMQ (job id = row id). Never throws; resolves to the status its row was admitted with.
   */
  async admitted(data: GenerationJobData, join: Join, local: LocalRun | undefined): Promise<'active' | 'queued'> {
    const { id } = data;
    stage(id, 'admitted');
    const queued = this.deps.events?.publish(id, 'queued'); // never throws
    const withDeadline = { ...data, ...(join.cancelAt ? { cancelAt: join.cancelAt.getTime() } : {}) };
    if (local) {
      local.start(withDeadline, tailPriority(join.priority)); // not waiting for the event: it goes out ahead on the command connection
      return 'active';
    }
    await this.#enqueue(withDeadline, join);
    await queued;
    return 'queued';
  }

  /** Adds the job at its fair place; answers within ENQUEUE_WAIT_MS whatever Redis does. */
  async #enqueue(data: GenerationJobData, join: Join): Promise<void> {
    const { queues, log } = this.deps;
    const { id } = data;
    // BullMQ queues commands while Redis is away; the row is the record, so don't hold the client for it.
    // The fair slot and the enqueue are both Redis: they share the one bound. `data.trace` (the admission's) lets the worker's attempt continue this request's trace.
    const enqueued = traced(() => ['promptlab.enqueue', { 'promptlab.job_id': id }], () => this.#fairSlot(join).then(({ fair, priority }) => queues.generation.add('generate',
      { ...forQueue(data), ...(fair ? { fair } : {}) }, queues.jobOptions(id, priority))));
    const added = enqueued.then(() => true, (err: unknown) => {
      log.error({ err: String(err), jobId: id }, 'enqueue failed; the reconciler enqueues the job once Redis answers');
      return false;
    });
    void added.then(() => stage(id, 'enqueued'));
    if ((await within(added, ENQUEUE_WAIT_MS)) === TIMED_OUT) {
      log.warn({ jobId: id, waitedMs: ENQUEUE_WAIT_MS }, 'enqueue slow: answering without waiting for Redis (if it never takes the job, the reconciler enqueues it)');
    }
  }

  /** The job's place in its class's fair order; without Redis, the class's tail (the enqueue is retried by the reconciler anyway). */
  async #fairSlot(join: Join): Promise<{ fair?: FairSlot; priority: number }> {
    const slot = await within(this.deps.fairness.admit(join.apiKeyId, join.priority).catch(() => undefined), ENQUEUE_WAIT_MS);
    return slot && slot !== TIMED_OUT ? slot : { priority: tailPriority(join.priority) };
  }

  /**
   * A request of a higher class joined the job: it moves to the joiner's place in that
   * class (a fresh fair slot of the joiner's key). A job that already started is left as it is.
   */
  async raise(id: string, join: Join): Promise<void> {
    try {
      const job = await this.deps.queues.generation.getJob(id);
      if (!job) return;
      const { fair, priority } = await this.#fairSlot(join);
      if (priority >= (job.priority || Infinity)) return;
      await job.changePriority({ priority });
      if (fair) await job.updateData({ ...job.data, fair });
    } catch (err) {
      this.deps.log.warn({ err: String(err), jobId: id }, 'could not raise the priority of a joined job');
    }
  }
}
