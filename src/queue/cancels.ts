import { duplicateOf, perKey, type RedisClient } from '../redis/client.js';
import type { Logger } from 'pino';
import { redisKeys } from '../redis/keys.js';

/** The pub/sub channel a cancel of a running generation is announced on: its message is the job id. */
export const cancelChannel = (prefix: string) => redisKeys(prefix).cancelChannel;

/** Where a cancel is kept for a day, for subscribers that were reconnecting when it was announced. */
const cancelKey = (prefix: string, jobId: string) => redisKeys(prefix).cancel(jobId);

/** Tells every worker process that `jobId` was canceled while an attempt may be running. */
export async function announceCancel(redis: RedisClient, prefix: string, jobId: string): Promise<void> {
  await redis.set(cancelKey(prefix, jobId), '1', 'EX', 86_400);
  await redis.publish(cancelChannel(prefix), jobId);
}

/**
 * The abort signals of the attempts a worker process runs, by job id, fired by
 * cancels announced on `<prefix>:cancel`. An attempt is tracked from before its
 * claim, so a cancel marked on the row after the claim always finds it here; one
 * marked before finds the claim refused (`Ledger.claim`: `cancel`).
 */
export class CancelSignals {
  readonly #sub: RedisClient;
  readonly #running = new Map<string, AbortController>();

  constructor(private readonly redis: RedisClient, private readonly prefix: string, log: Logger) {
    this.#sub = duplicateOf(redis, { enableOfflineQueue: true, maxRetriesPerRequest: null });
    this.#sub.on('error', (err) => log.debug({ err: String(err) }, 'cancel subscriber error'));
    this.#sub.on('message', (_ch, jobId: string) => this.abort(jobId));
    // After a reconnect, announcements may have been missed: look up the kept cancels of what runs here.
    this.#sub.on('ready', () => void this.#recheck().catch((err: unknown) => log.debug({ err: String(err) }, 'cancel recheck failed')));
    void this.#sub.subscribe(cancelChannel(prefix)).catch(() => {});
  }

  async #recheck(): Promise<void> {
    const ids = [...this.#running.keys()];
    if (!ids.length) return;
    const kept = await perKey(this.redis, ids.map((id) => cancelKey(this.prefix, id)), (keys) => this.redis.mget(...keys));
    ids.forEach((id, i) => kept[i] && this.abort(id));
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
