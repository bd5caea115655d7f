import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { GenerationRow } from '../db/schema.js';

/** What the cache keeps per input hash: enough to answer a hit without Postgres. */
export interface CachedResult {
  jobId: string;
  result: { text: string; json?: unknown };
  usage: { inputTokens: number; outputTokens: number; totalTokens: number };
  costUsd: number;
  provider: string;
  model: string;
  /** Epoch ms when the result was stored. */
  storedAt: number;
}

/**
 * The Redis tier of the result cache (`<prefix>:cache:<inputHash>`, TTL per entry).
 * Reads throw when Redis is unreachable so the caller can fall back to Postgres;
 * writes never throw (a lost cache write costs a later miss, never a result).
 */
export class ResultCache {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly log: Logger,
  ) {}

  key(inputHash: string): string {
    return `${this.prefix}:cache:${inputHash}`;
  }

  async get(inputHash: string): Promise<CachedResult | undefined> {
    const raw = await this.redis.get(this.key(inputHash));
    if (!raw) {
      this.log.debug({ key: inputHash.slice(0, 16) }, 'cache miss');
      return undefined;
    }
    const value = JSON.parse(raw) as CachedResult;
    this.log.info({ key: inputHash.slice(0, 16), ageS: Math.round((Date.now() - value.storedAt) / 100) / 10 }, 'cache hit');
    return value;
  }

  async set(inputHash: string, value: CachedResult, ttlSeconds: number): Promise<void> {
    if (ttlSeconds <= 0) return;
    try {
      await this.redis.set(this.key(inputHash), JSON.stringify(value), 'EX', ttlSeconds);
      this.log.info({ key: inputHash.slice(0, 16), ttlS: ttlSeconds }, 'cache save');
    } catch (err) {
      this.log.warn({ err, key: inputHash.slice(0, 16) }, 'cache save failed');
    }
  }

  async delete(inputHash: string): Promise<number> {
    return this.redis.del(this.key(inputHash));
  }
}

/** The cache entry of a completed generation row. */
export function cachedFromRow(row: GenerationRow): CachedResult {
  return {
    jobId: row.id,
    result: { text: row.resultText ?? '', ...(row.resultJson !== null ? { json: row.resultJson } : {}) },
    usage: { inputTokens: row.inputTokens, outputTokens: row.outputTokens, totalTokens: row.inputTokens + row.outputTokens },
    costUsd: row.costUsd,
    provider: row.provider,
    model: row.model,
    storedAt: row.completedAt?.getTime() ?? Date.now(),
  };
}
