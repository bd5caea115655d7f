import { and, eq, lt, or } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { idempotencyKeys } from '../db/schema.js';
import { AppError } from '../errors/app-error.js';
import { decodeJson, encodeJson } from '../jobs/result-codec.js';
import { within } from '../util/within.js';

/** How long an Idempotency-Key is remembered. */
export const IDEMPOTENCY_TTL_MS = 24 * 3600 * 1000;

/**
 * How long a claimed key may stay `pending` before the next request with it
 * takes it over. The longest legitimate admission is a `?wait=60` generation
 * (60 s) plus its Postgres and Redis round trips; past that the request that
 * claimed the key died or lost its connection to Postgres before it could
 * store its response or release the key.
 */
export const IDEMPOTENCY_LEASE_MS = 90_000;

/** How often a claim whose release failed (Postgres away) is released again, until its lease lapses. */
const RELEASE_RETRY_MS = 1000;

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
 * A claim that fails is released, and one left `pending` past
 * IDEMPOTENCY_LEASE_MS (its request died) is taken over: a key is never stuck.
 */
const byKey = (apiKeyId: string, key: string) => and(eq(idempotencyKeys.apiKeyId, apiKeyId), eq(idempotencyKeys.key, key));
const before = (ms: number) => lt(idempotencyKeys.createdAt, new Date(Date.now() - ms));
const expiredBefore = () => before(IDEMPOTENCY_TTL_MS);
/** Our claim and nobody else's: a claim's `created_at` (ms, as written) is its token. */
const ourClaim = (apiKeyId: string, key: string, claimedAt: Date) =>
  and(byKey(apiKeyId, key), eq(idempotencyKeys.state, 'pending'), eq(idempotencyKeys.createdAt, claimedAt));

export class IdempotencyStore {
  constructor(private readonly db: Db) {}

  /** Runs `fn` once per (apiKeyId, key) and payload; repeats get its response. */
  async run(apiKeyId: string, key: string, requestHash: string, fn: () => Promise<StoredResponse>): Promise<StoredResponse & { replayed: boolean }> {
    const claimedAt = new Date();
    const prior = await this.#claim(apiKeyId, key, requestHash, claimedAt);
    if (prior) {
      if (prior.requestHash !== requestHash) {
        throw new AppError('idempotency_key_reused', 'This Idempotency-Key was already used with a different payload.');
      }
      if (prior.state !== 'done') {
        // The true wait: until the first request answers, at most until its lease lapses.
        const leftS = Math.max(1, Math.ceil((prior.createdAt.getTime() + IDEMPOTENCY_LEASE_MS - Date.now()) / 1000));
        throw new AppError('idempotency_key_in_progress', `A request with this Idempotency-Key is still being admitted; retry in at most ${leftS} s.`, undefined, { 'retry-after': String(leftS) });
      }
      return { status: prior.responseStatus!, body: decodeJson(prior.responseBody, prior.responseEncoding), headers: prior.responseHeaders ?? {}, replayed: true };
    }
    try {
      const res = await fn();
      // A result may hold text Postgres cannot store (NUL, unpaired surrogates): kept as JSON text then.
      const body = encodeJson(res.body);
      await this.db
        .update(idempotencyKeys)
        .set({ state: 'done', responseStatus: res.status, responseBody: body.value, responseEncoding: body.encoding, responseHeaders: res.headers })
        .where(ourClaim(apiKeyId, key, claimedAt));
      return { ...res, replayed: false };
    } catch (err) {
      // Not admitted, or its response could not be stored: free the key so a retry runs again, before
      // answering (a client retrying at once must not find it still held), for RELEASE_RETRY_MS at
      // most. When Postgres is gone this fails too: it is tried again in the background, so a retry
      // after the 503's Retry-After finds the key free as soon as Postgres is back, not only once the lease lapses.
      await within(this.#release(apiKeyId, key, claimedAt), RELEASE_RETRY_MS);
      throw err;
    }
  }

  /** Deletes our claim; resolves after the first try, retrying in the background when it failed. */
  #release(apiKeyId: string, key: string, claimedAt: Date, attempt = 0): Promise<void> {
    return this.db.delete(idempotencyKeys).where(ourClaim(apiKeyId, key, claimedAt)).then(() => undefined, () => {
      if ((attempt + 1) * RELEASE_RETRY_MS >= IDEMPOTENCY_LEASE_MS) return; // the lease frees it now
      setTimeout(() => this.#release(apiKeyId, key, claimedAt, attempt + 1), RELEASE_RETRY_MS).unref();
    });
  }

  /**
   * Claims the key (undefined) or returns the live record that holds it; a
   * record past its 24 h, or still pending past its lease, is taken over.
   */
  async #claim(apiKeyId: string, key: string, requestHash: string, claimedAt: Date): Promise<typeof idempotencyKeys.$inferSelect | undefined> {
    const fresh = { apiKeyId, key, requestHash, state: 'pending' as const, createdAt: claimedAt };
    const inserted = await this.db.insert(idempotencyKeys).values(fresh).onConflictDoNothing().returning({ key: idempotencyKeys.key });
    if (inserted.length) return undefined;
    const taken = await this.db
      .update(idempotencyKeys)
      .set({ requestHash, state: 'pending', responseStatus: null, responseBody: null, responseEncoding: null, responseHeaders: null, createdAt: claimedAt })
      .where(and(byKey(apiKeyId, key), or(expiredBefore(), and(eq(idempotencyKeys.state, 'pending'), before(IDEMPOTENCY_LEASE_MS)))))
      .returning({ key: idempotencyKeys.key });
    if (taken.length) return undefined;
    const [row] = await this.db.select().from(idempotencyKeys).where(byKey(apiKeyId, key));
    return row ?? (await this.#claim(apiKeyId, key, requestHash, claimedAt)); // deleted meanwhile (its first request failed): claim again
  }

  /** Deletes records past their 24 h (the worker's sweeper calls this). */
  async purgeExpired(): Promise<void> {
    await this.db.delete(idempotencyKeys).where(expiredBefore());
  }
}
