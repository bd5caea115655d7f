import type { Redis } from 'ioredis';
import type { Logger } from 'pino';

/** The pub/sub channel a cancel of a running generation is announced on: its message is the job id. */
export const cancelChannel = (prefix: string) => `${prefix}:cancel`;

/** Tells every worker process that `jobId` was canceled while an attempt may be running. */
export async function announceCancel(redis: Redis, prefix: string, jobId: string): Promise<void> {
  await redis.publish(cancelChannel(prefix), jobId);
}

/**
 * The abort signals of the attempts a worker process runs, by job id, fired by
 * cancels announced on `<prefix>:cancel`. An attempt is tracked from before its
 * claim, so a cancel marked on the row after the claim always finds it here; one
 * marked before finds the claim refused (`Ledger.claim`: `cancel`).
 */
export class CancelSignals {
  readonly #sub: Redis;
  readonly #running = new Map<string, AbortController>();

  constructor(redis: Redis, prefix: string, log: Logger) {
    this.#sub = redis.duplicate({ enableOfflineQueue: true, maxRetriesPerRequest: null });
    this.#sub.on('error', (err) => log.debug({ err: String(err) }, 'cancel subscriber error'));
    this.#sub.on('message', (_ch, jobId: string) => this.abort(jobId));
    void this.#sub.subscribe(cancelChannel(prefix)).catch(() => {});
  }

  /** Aborts the attempt of `jobId` running here, if any. */
  abort(jobId: string): void {
    this.#running.get(jobId)?.abort(new Error('canceled'));
  }

  /** The signal of an attempt of `jobId`; `done` stops tracking it. */
  track(jobId: string): { signal: AbortSignal; done(): void } {
    const controller = new AbortController();
    this.#running.set(jobId, controller);
    return { signal: controller.signal, done: () => this.#running.get(jobId) === controller && this.#running.delete(jobId) };
  }

  close(): void {
    this.#sub.disconnect();
  }
}
