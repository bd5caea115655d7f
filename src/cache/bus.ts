import { duplicateOf, type RedisClient } from '../redis/client.js';
import type { Logger } from 'pino';
import { redisKeys } from '../redis/keys.js';

export type Invalidation =
  | { kind: 'template'; id: string }
  | { kind: 'result'; inputHash: string }
  | { kind: 'results' }
  | { kind: 'api_key'; keyId: string }
  /** A new version of the routing document: every process loads it. */
  | { kind: 'routes' }
  /** A deployment leaves its groups until `until` (epoch ms). */
  | { kind: 'cooldown'; deployment: string; until: number }
  | { kind: 'all' };

/**
 * Cross-process invalidation over Redis pub/sub (`<prefix>:invalidate`): a
 * process that changes a template or clears cached results publishes it, and
 * every process drops its in-process copies. Each process also applies its own
 * messages, so a publish is the one way local caches are cleared.
 */
export class InvalidationBus {
  readonly #sub: RedisClient | undefined;
  readonly #channel: string;
  readonly #handlers = new Set<(msg: Invalidation) => void>();

  /** `listen: false` for processes that only publish (workers keep no local copies). */
  constructor(private readonly pub: RedisClient, prefix: string, log: Logger, { listen = true } = {}) {
    this.#channel = redisKeys(prefix).invalidateChannel;
    if (!listen) return;
    const sub = (this.#sub = duplicateOf(pub, { enableOfflineQueue: true, maxRetriesPerRequest: null }));
    sub.on('error', (err) => log.debug({ err: String(err) }, 'invalidation subscriber error'));
    sub.on('message', (_ch, raw: string) => this.#apply(JSON.parse(raw) as Invalidation));
    // After a reconnect, messages may have been missed: drop everything local.
    sub.on('ready', () => this.#apply({ kind: 'all' }));
    void sub.subscribe(this.#channel).catch(() => {});
  }

  /**
   * The subscriber is connected, so another process's invalidation reaches this one within a
   * round trip. False while Redis is away (and always for `listen: false`): what this process
   * keeps in memory may then be stale, and caches that must never be (API keys) re-read Postgres.
   */
  get listening(): boolean {
    return this.#sub?.status === 'ready';
  }

  on(handler: (msg: Invalidation) => void): void {
    this.#handlers.add(handler);
  }

  /** Applies locally at once, then tells the other processes (best effort when Redis is down). */
  async publish(msg: Invalidation): Promise<void> {
    this.#apply(msg);
    await this.pub.publish(this.#channel, JSON.stringify(msg)).catch(() => 0);
  }

  #apply(msg: Invalidation): void {
    for (const h of this.#handlers) h(msg);
  }

  close(): void {
    this.#sub?.disconnect();
  }
}
