import { deflateRawSync, inflateRawSync } from 'node:zlib';
import type { RedisClient } from '../redis/client.js';
import { LRUCache } from 'lru-cache';
import type { Logger } from 'pino';
import type { GenerationRow, ResultExtra } from '../db/schema.js';
import type { FinishReason } from '../llm/result.js';
import { decodeResult, usageOf } from '../jobs/result-codec.js';
import { perKey, unlinkMatching } from '../redis/client.js';
import { TIMED_OUT, within } from '../util/within.js';
import type { InvalidationBus } from './bus.js';
import { redisKeys } from '../redis/keys.js';
import { TurnBatch } from '../redis/turn-batch.js';

/** What the cache keeps per input hash: enough to answer a hit without Postgres. */
export interface CachedResult {
  jobId: string;
  /** The answer: text, JSON, and its parts beyond them (`extra`: blocks, logprobs, embeddings). */
  result: { text: string; json?: unknown; extra?: ResultExtra };
  /** Why the answer ended; absent on entries stored before finish reasons were kept: `stop`. */
  finishReason?: FinishReason;
  usage: { inputTokens: number; outputTokens: number; totalTokens: number; cacheReadTokens?: number; cacheWriteTokens?: number; reasoningTokens?: number };
  costUsd: number;
  provider: string;
  model: string;
  /** Epoch ms when the result was stored, and when it stops being served. */
  storedAt: number;
  expiresAt: number;
}

export type CacheTier = 'local' | 'redis' | 'postgres';

export interface ResultCacheOptions {
  /** Longest time a result is served from process memory. @defaultValue 5000 */
  localTtlMs?: number;
  /** Memory bound of the in-process tier. @defaultValue 64 MiB */
  localMaxBytes?: number;
  /** Entries at least this large are stored deflated in Redis. @defaultValue 1024 */
  compressMinBytes?: number;
  /**
   * Longest wait for Redis on a lookup before `get` rejects, so the caller
   * falls back to Postgres even when Redis hangs (connection open, no answers).
   * @defaultValue 100
   */
  timeoutMs?: number;
}

const DEFLATED = 0x01; // first byte of a compressed entry; plain entries start with '{'

/** One Redis lookup waiting for its turn's MGET. */
interface Lookup {
  key: string;
  resolve: (raw: Buffer | null) => void;
  reject: (err: unknown) => void;
}

/**
 * The result cache, two tiers (seed 004): a bounded in-process LRU with a short
 * TTL in front of Redis (`<prefix>:cache:<inputHash>`, the template's TTL).
 * Redis reads throw when Redis is unreachable or hangs past `timeoutMs`, so
 * the caller can fall back to Postgres; writes never throw (a lost write
 * costs a later miss, never a result). Clears go through the invalidation
 * bus, so no process keeps serving a cleared entry from memory.
 */
export class ResultCache {
  readonly #local: LRUCache<string, CachedResult>;
  readonly #localTtlMs: number;
  readonly #compressMin: number;
  readonly #timeoutMs: number;
  /** The Redis lookups of one event-loop turn go as one MGET (per slot on a cluster). */
  readonly #lookups: TurnBatch<Lookup>;

  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    private readonly log: Logger,
    private readonly bus: InvalidationBus,
    opts: ResultCacheOptions = {},
  ) {
    this.#localTtlMs = opts.localTtlMs ?? 5000;
    this.#compressMin = opts.compressMinBytes ?? 1024;
    this.#timeoutMs = opts.timeoutMs ?? 100;
    this.#local = new LRUCache({
      maxSize: opts.localMaxBytes ?? 64 * 1024 * 1024,
      sizeCalculation: (v) => 256 + 2 * (v.result.text.length + (v.result.json === undefined ? 0 : JSON.stringify(v.result.json).length)
        + (v.result.extra === undefined ? 0 : JSON.stringify(v.result.extra).length)),
      ttl: this.#localTtlMs,
    });
    this.#lookups = new TurnBatch<Lookup>(redis, (lookups) => {
      redis.mgetBuffer(lookups.map((l) => l.key)).then(
        (raws) => lookups.forEach((l, i) => l.resolve(raws[i] ?? null)),
        (err: unknown) => lookups.forEach((l) => l.reject(err)),
      );
    });
    bus.on((msg) => {
      if (msg.kind === 'result') this.#local.delete(msg.inputHash);
      else if (msg.kind === 'results' || msg.kind === 'all') this.#local.clear();
    });
  }

  key(inputHash: string): string {
    return redisKeys(this.prefix).cache(inputHash);
  }

  /** Memory first, then Redis (the lookups of one turn in one MGET), which rejects when Redis fails or stays silent for `timeoutMs`. */
  async get(inputHash: string): Promise<{ value: CachedResult; tier: CacheTier } | undefined> {
    const short = inputHash.slice(0, 16);
    const status: LRUCache.Status<string, CachedResult> = {};
    const local = this.#local.get(inputHash, { status });
    if (local) return this.#hit(local, 'local', short);
    if (status.get === 'stale') this.log.info({ key: short, tier: 'local' }, 'cache expired');
    const key = this.key(inputHash);
    const raw = await within(new Promise<Buffer | null>((resolve, reject) => this.#lookups.add({ key, resolve, reject })), this.#timeoutMs);
    if (raw === TIMED_OUT) throw new Error(`Redis did not answer the cache lookup within ${this.#timeoutMs} ms`);
    if (!raw) {
      this.log.debug({ key: short }, 'cache miss');
      return undefined;
    }
    const value = JSON.parse((raw[0] === DEFLATED ? inflateRawSync(raw.subarray(1)) : raw).toString('utf8')) as CachedResult;
    this.#remember(inputHash, value);
    return this.#hit(value, 'redis', short);
  }

  #hit(value: CachedResult, tier: CacheTier, short: string) {
    this.log.info({ key: short, tier, ageS: Math.round((Date.now() - value.storedAt) / 100) / 10 }, 'cache hit');
    return { value, tier };
  }

  #remember(inputHash: string, value: CachedResult): void {
    const ttl = Math.min(this.#localTtlMs, value.expiresAt - Date.now());
    if (ttl > 0) this.#local.set(inputHash, value, { ttl });
  }

  /** Stores a result for `ttlSeconds` (0: not at all). `refresh` tells other processes to drop their copy. */
  async set(inputHash: string, value: Omit<CachedResult, 'expiresAt'>, ttlSeconds: number, refresh = false): Promise<void> {
    if (ttlSeconds <= 0) return;
    const entry: CachedResult = { ...value, expiresAt: Date.now() + ttlSeconds * 1000 };
    const json = Buffer.from(JSON.stringify(entry));
    const body = json.length >= this.#compressMin ? Buffer.concat([Buffer.of(DEFLATED), deflateRawSync(json, { level: 1 })]) : json;
    try {
      await this.redis.set(this.key(inputHash), body, 'EX', ttlSeconds);
      if (refresh) await this.bus.publish({ kind: 'result', inputHash });
      this.log.info({ key: inputHash.slice(0, 16), ttlS: ttlSeconds, bytes: body.length, compressed: body !== json }, 'cache save');
    } catch (err) {
      this.log.warn({ err: String(err), key: inputHash.slice(0, 16) }, 'cache save failed');
    }
  }

  /** Removes one entry everywhere; resolves to how many Redis keys went. */
  async delete(inputHash: string): Promise<number> {
    const removed = await this.redis.del(this.key(inputHash));
    await this.bus.publish({ kind: 'result', inputHash });
    return removed;
  }

  /** Removes the entries of `hashes` everywhere (UNLINK in batches); resolves to how many Redis keys went. */
  async deleteMany(hashes: string[]): Promise<number> {
    let removed = 0;
    for (let i = 0; i < hashes.length; i += 500) {
      const counts = await perKey(this.redis, hashes.slice(i, i + 500).map((h) => this.key(h)), async (keys) => [await this.redis.unlink(...keys)]);
      for (const n of counts) removed += n;
    }
    await this.bus.publish({ kind: 'results' });
    return removed;
  }

  /** Removes every cached result (SCAN + UNLINK, never KEYS); resolves to how many. */
  async clear(): Promise<number> {
    const removed = await unlinkMatching(this.redis, redisKeys(this.prefix).cacheAll);
    await this.bus.publish({ kind: 'results' });
    return removed;
  }
}

/** The cache entry of a completed generation row. */
export function cachedFromRow(row: GenerationRow, ttlSeconds: number): CachedResult {
  const storedAt = row.completedAt?.getTime() ?? Date.now();
  return {
    jobId: row.id,
    result: decodeResult(row),
    finishReason: row.finishReason ?? 'stop',
    usage: usageOf(row),
    costUsd: row.costUsd,
    provider: row.provider,
    model: row.model,
    storedAt,
    expiresAt: storedAt + ttlSeconds * 1000,
  };
}
