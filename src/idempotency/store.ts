import { and, eq, lt, sql } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { idempotencyKeys } from '../db/schema.js';
import { AppError } from '../errors/app-error.js';

/** How long an Idempotency-Key is remembered. */
export const IDEMPOTENCY_TTL_MS = 24 * 3600 * 1000;

export interface StoredResponse {
  status: number;
  body: unknown;
  headers: Record<string, string>;
}

/**
 * `Idempotency-Key` (scoped to the API key, kept 24 h in Postgres). The first
 * request claims the key with its payload hash; a repeat gets the stored
 * response, even once the cache entry expired or the job failed; a different
 * payload is a 422; a repeat while the first is still being admitted a 409.
 */
const byKey = (apiKeyId: string, key: string) => and(eq(idempotencyKeys.apiKeyId, apiKeyId), eq(idempotencyKeys.key, key));
const expiredBefore = () => lt(idempotencyKeys.createdAt, new Date(Date.now() - IDEMPOTENCY_TTL_MS));

export class IdempotencyStore {
  constructor(private readonly db: Db) {}

  /** Runs `fn` once per (apiKeyId, key) and payload; repeats get its response. */
  async run(apiKeyId: string, key: string, requestHash: string, fn: () => Promise<StoredResponse>): Promise<StoredResponse & { replayed: boolean }> {
    const prior = await this.#claim(apiKeyId, key, requestHash);
    if (prior) {
      if (prior.requestHash !== requestHash) {
        throw new AppError('idempotency_key_reused', 'This Idempotency-Key was already used with a different payload.');
      }
      if (prior.state !== 'done') throw new AppError('idempotency_key_in_progress');
      return { status: prior.responseStatus!, body: prior.responseBody, headers: prior.responseHeaders ?? {}, replayed: true };
    }
    let res: StoredResponse;
    try {
      res = await fn();
    } catch (err) {
      // Not admitted: free the key so the client can retry with it.
      await this.db.delete(idempotencyKeys).where(byKey(apiKeyId, key));
      throw err;
    }
    await this.db
      .update(idempotencyKeys)
      .set({ state: 'done', responseStatus: res.status, responseBody: res.body, responseHeaders: res.headers })
      .where(byKey(apiKeyId, key));
    return { ...res, replayed: false };
  }

  /** Claims the key (undefined) or returns the live record that holds it; an expired record is taken over. */
  async #claim(apiKeyId: string, key: string, requestHash: string): Promise<typeof idempotencyKeys.$inferSelect | undefined> {
    const fresh = { apiKeyId, key, requestHash, state: 'pending' as const, createdAt: new Date() };
    const inserted = await this.db.insert(idempotencyKeys).values(fresh).onConflictDoNothing().returning({ key: idempotencyKeys.key });
    if (inserted.length) return undefined;
    const taken = await this.db
      .update(idempotencyKeys)
      .set({ requestHash, state: 'pending', responseStatus: null, responseBody: null, responseHeaders: null, createdAt: sql`now()` })
      .where(and(byKey(apiKeyId, key), expiredBefore()))
      .returning({ key: idempotencyKeys.key });
    if (taken.length) return undefined;
    const [row] = await this.db.select().from(idempotencyKeys).where(byKey(apiKeyId, key));
    return row ?? (await this.#claim(apiKeyId, key, requestHash)); // deleted meanwhile (its first request failed): claim again
  }

  /** Deletes records past their 24 h (the worker's sweeper calls this). */
  async purgeExpired(): Promise<void> {
    await this.db.delete(idempotencyKeys).where(expiredBefore());
  }
}
