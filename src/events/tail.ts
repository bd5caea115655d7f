import { randomUUID } from 'node:crypto';
import type { RedisClient } from '../redis/client.js';
import type { Logger } from 'pino';
import { createRedis, type RedisTarget } from '../redis/client.js';
import { compareIds, parseEntry, type JobEvent, type JobEventLog } from './job-events.js';

interface Subscriber {
  cursor: string;
  deliver(event: JobEvent): void;
}

export interface JobEventTailOptions {
  /** Longest single XREAD BLOCK. @defaultValue 10000 */
  blockMs?: number;
}

/**
 * Follows the event streams of every job some client of this process is
 * watching, with one blocking XREAD over all of them on one dedicated
 * connection: RedisClient connections grow with API processes, not with SSE
 * clients, and the shared command connection is never blocked.
 *
 * A new subscription must join an XREAD already blocked: the tail appends to
 * its own wake-up stream, which the XREAD includes with the last id it saw.
 * Unlike CLIENT UNBLOCK, that cannot be lost in a race: if the wake-up lands
 * before the XREAD, the XREAD returns at once.
 */
export class JobEventTail {
  readonly #conn: RedisClient;
  readonly #subs = new Map<string, Set<Subscriber>>();
  readonly #wakeKey: string;
  #wakeId = '0-0';
  #running = false;
  #reading = false;
  #closed = false;
  readonly #blockMs: number;

  constructor(
    target: RedisTarget,
    private readonly events: JobEventLog,
    private readonly commands: RedisClient,
    private readonly log: Logger,
    opts: JobEventTailOptions = {},
  ) {
    this.#conn = createRedis(target, { enableOfflineQueue: true, maxRetriesPerRequest: null, lazyConnect: true });
    this.#conn.on('error', (err) => log.debug({ err: String(err) }, 'event tail connection error'));
    this.#wakeKey = `${events.key('wake')}:${randomUUID()}`;
    this.#blockMs = opts.blockMs ?? 10_000;
  }

  /**
   * Calls `deliver` with every event of `jobId` after `afterId` (`0-0`: from
   * the start), in order, until the returned function is called.
   */
  subscribe(jobId: string, afterId: string, deliver: (event: JobEvent) => void): () => void {
    const key = this.events.key(jobId);
    const sub: Subscriber = { cursor: afterId, deliver };
    let set = this.#subs.get(key);
    if (!set) this.#subs.set(key, (set = new Set()));
    set.add(sub);
    if (!this.#running) void this.#run();
    else if (this.#reading) this.#wake();
    return () => {
      const s = this.#subs.get(key);
      s?.delete(sub);
      if (s?.size === 0) this.#subs.delete(key);
    };
  }

  #wake(): void {
    this.commands.pipeline().xadd(this.#wakeKey, 'MAXLEN', '1', '*', 'w', '1').expire(this.#wakeKey, 60).exec()
      .catch(() => {}); // the XREAD ends by its timeout instead
  }

  async #run(): Promise<void> {
    this.#running = true;
    try {
      while (!this.#closed && this.#subs.size > 0) {
        const keys = [...this.#subs.keys()];
        const ids = keys.map((k) => [...this.#subs.get(k)!].reduce((min, s) => (compareIds(s.cursor, min) < 0 ? s.cursor : min), '99999999999999999999-0'));
        let res: [string, [string, string[]][]][] | null;
        try {
          this.#reading = true;
          res = (await this.#conn.xread('COUNT', 100, 'BLOCK', this.#blockMs, 'STREAMS', this.#wakeKey, ...keys, this.#wakeId, ...ids)) as typeof res;
        } catch (err) {
          if (this.#closed) return;
          this.log.warn({ err: String(err) }, 'event tail read failed; retrying');
          await new Promise((r) => setTimeout(r, 500));
          continue;
        } finally {
          this.#reading = false;
        }
        for (const [key, entries] of res ?? []) {
          if (key === this.#wakeKey) {
            this.#wakeId = entries.at(-1)?.[0] ?? this.#wakeId;
            continue;
          }
          for (const entry of entries) {
            const event = parseEntry(entry);
            for (const sub of this.#subs.get(key) ?? []) {
              if (compareIds(event.id, sub.cursor) <= 0) continue;
              sub.cursor = event.id;
              sub.deliver(event);
            }
          }
        }
      }
    } finally {
      this.#running = false;
    }
    // A subscription that arrived as the loop was ending.
    if (!this.#closed && this.#subs.size > 0) void this.#run();
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#subs.clear();
    this.#conn.disconnect();
    await this.commands.del(this.#wakeKey).catch(() => {});
  }
}
