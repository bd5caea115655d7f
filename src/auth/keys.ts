import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { LRUCache } from 'lru-cache';
import type { Db } from '../db/client.js';
import { newId } from '../db/ids.js';
import { apiKeys } from '../db/schema.js';
import type { Caller, Tier } from './caller.js';

/**
 * API keys carry 256 random bits, so a plain SHA-256 is the right hash: a slow
 * password hash buys nothing against brute force here and would cost every request.
 */
export const hashKey = (key: string): string => createHash('sha256').update(key).digest('hex');

export const generateKey = (): string => `pl_${randomBytes(32).toString('base64url')}`;

export interface ApiKeysOptions {
  db: Db;
  adminKey: string;
  /** How long a resolved key is remembered in process. @defaultValue 60000 */
  cacheTtlMs?: number;
}

/** Creates keys and resolves a bearer key to its caller, with a small in-process LRU in front of Postgres. */
export class ApiKeys {
  readonly #db: Db;
  readonly #adminHash: Buffer;
  readonly #cache: LRUCache<string, Caller>;

  constructor(opts: ApiKeysOptions) {
    this.#db = opts.db;
    this.#adminHash = Buffer.from(hashKey(opts.adminKey), 'hex');
    this.#cache = new LRUCache({ max: 10_000, ttl: opts.cacheTtlMs ?? 60_000 });
  }

  async create(name: string, tier: Tier): Promise<{ id: string; key: string; tier: Tier; name: string }> {
    const key = generateKey();
    const id = newId('key');
    await this.#db.insert(apiKeys).values({ id, name, tier, keyHash: hashKey(key) });
    return { id, key, tier, name };
  }

  /** The caller for a presented key, or undefined when the key is unknown. */
  async resolve(key: string): Promise<Caller | undefined> {
    const hash = hashKey(key);
    const hit = this.#cache.get(hash);
    if (hit) return hit;
    const h = Buffer.from(hash, 'hex');
    if (timingSafeEqual(h, this.#adminHash)) return { keyId: 'admin', tier: 'enterprise', admin: true };
    const [row] = await this.#db.select({ id: apiKeys.id, tier: apiKeys.tier }).from(apiKeys).where(eq(apiKeys.keyHash, hash));
    if (!row) return undefined;
    const caller: Caller = { keyId: row.id, tier: row.tier, admin: false };
    this.#cache.set(hash, caller);
    return caller;
  }
}
