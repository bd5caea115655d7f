import { TIMED_OUT, within } from '../util/within.js';

/**
 * Closes a BullMQ Queue, Worker or QueueEvents (or waits for the close already started,
 * `closed`), or drops its connections if that takes longer than `ms`: BullMQ's close can hang
 * while its connection is between reconnect attempts (seen right after a Redis restart), and
 * a shutdown must not wait on it.
 */
export async function closeBounded(x: { close(): Promise<void>; disconnect(): Promise<void> }, ms = 2000, closed = x.close().catch(() => {})): Promise<void> {
  // disconnect() can hang in that state too: fire it, don't wait for it.
  if ((await within(closed, ms)) === TIMED_OUT) void x.disconnect().catch(() => {});
}

/** The jobs a BullMQ Worker's processor is running, so that a close can tell when they are done (`closeWorker`). */
export class Running {
  readonly #runs = new Set<Promise<unknown>>();

  /** `fn` as a processor whose runs are counted. */
  wrap<A extends unknown[], R>(fn: (...args: A) => Promise<R>): (...args: A) => Promise<R> {
    return (...args) => {
      const run = fn(...args);
      this.#runs.add(run);
      const done = () => this.#runs.delete(run);
      run.then(done, done);
      return run;
    };
  }

  async idle(): Promise<void> {
    while (this.#runs.size) await Promise.allSettled([...this.#runs]);
  }
}

/**
 * Closes a BullMQ Worker: waits for the jobs it runs, however long they take, then at most `ms`
 * for the rest of its close, after which its connections are dropped: BullMQ's close never resolves
 * while its blocking connection is between reconnect attempts (taskforcesh/bullmq#4656), as it is
 * for a moment after a Redis restart.
 */
export async function closeWorker(worker: { close(): Promise<void>; disconnect(): Promise<void> }, running: Running, ms = 2000): Promise<void> {
  const closed = worker.close().catch(() => {}); // stops fetching at once
  await Promise.race([closed, running.idle().then(() => closeBounded(worker, ms, closed))]);
}
