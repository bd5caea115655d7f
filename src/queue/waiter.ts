import { QueueEvents } from 'bullmq';
import type { Config } from '../config/index.js';
import { bullConnection } from '../redis/client.js';
import { closeBounded } from './close.js';
import { GENERATION_QUEUE } from './queues.js';
import { redisKeys } from '../redis/keys.js';

/** The queue event a run started outside BullMQ (workers/local-start.ts) publishes once it settled its generation. */
export const SETTLED_EVENT = 'settled';

/**
 * Lets requests wait for their job to settle (`?wait=`). One QueueEvents
 * stream reader per process and a map of waiters by job id, so an event costs
 * O(1) however many requests wait (BullMQ's waitUntilFinished adds a listener
 * per call).
 */
export class JobWaiter {
  readonly #events: QueueEvents;
  readonly #bull: ReturnType<typeof bullConnection>;
  readonly #waiting = new Map<string, Set<() => void>>();

  constructor(config: Config) {
    this.#bull = bullConnection(config);
    this.#events = new QueueEvents(GENERATION_QUEUE, { connection: this.#bull.connection, prefix: redisKeys(config.REDIS_PREFIX).bull(GENERATION_QUEUE) });
    const wake = ({ jobId }: { jobId: string }) => {
      const set = this.#waiting.get(jobId);
      if (!set) return;
      this.#waiting.delete(jobId);
      for (const fn of set) fn();
    };
    this.#events.on('completed', wake);
    this.#events.on('failed', wake);
    this.#events.on('removed', wake); // a job canceled while it waited
    this.#events.on(SETTLED_EVENT as 'completed', wake); // a run started where it was admitted (LOCAL_START)
    this.#events.on('error', () => {}); // reconnects by itself; a wait then ends by its timeout
  }

  ready(): Promise<void> {
    return this.#events.waitUntilReady().then(() => undefined);
  }

  /** Resolves at the job's next completed/failed event, or after `ms`; subscribe before checking state. */
  next(jobId: string, ms: number): { promise: Promise<void>; cancel(): void } {
    let set = this.#waiting.get(jobId);
    if (!set) this.#waiting.set(jobId, (set = new Set()));
    let done!: () => void;
    const promise = new Promise<void>((resolve) => (done = resolve));
    const timer = setTimeout(() => cancel(), ms);
    const fire = () => { clearTimeout(timer); done(); };
    const cancel = () => {
      clearTimeout(timer);
      const s = this.#waiting.get(jobId);
      s?.delete(fire);
      if (s?.size === 0) this.#waiting.delete(jobId);
      done();
    };
    set.add(fire);
    return { promise, cancel };
  }

  async close(): Promise<void> {
    await closeBounded(this.#events);
    await this.#bull.close();
  }
}
