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

/** The shape of every key generateKey() issues: anything else is rejected without a lookup. */
const ISSUED_KEY = /^pl_[A-Za-z0-9_-]{43}$/;

/**
 * Hooks around a Postgres lookup, so the caller can refuse clients that guess
 * keys (FailedAttempts). Each may throw an AppError to answer instead.
 */
export interface LookupGuard {
  /** Before answering for any key that is not known valid; synchronous, local. */
  admit(): void;
  /** Right before a key is looked up in Postgres. */
  beforeLookup(): Promise<void>;
  /** After Postgres said the key does not exist. */
  missed(): Promise<void>;
}

export interface ApiKeysOptions {
  db: Db;
  adminKey: string;
  /** How long a resolved key is remembered in process. @defaultValue 60000 */
  cacheTtlMs?: number;
  /**
   * How long a well-formed key Postgres did not know is answered 401 from
   * process memory: repeats of one wrong key cost no query, and still get
   * their 401 while Postgres is down. Short, as a key issued meanwhile is
   * refused for that long. @defaultValue 10000
   */
  rejectedTtlMs?: number;
}

/**
 * Creates keys and resolves a bearer key to its caller, with small in-process
 * LRUs in front of Postgres: one of resolved keys, one of recently rejected ones.
 */
export class ApiKeys {
  readonly #db: Db;
  readonly #adminHash: Buffer;
  readonly #cache: LRUCache<string, Caller>;
  readonly #rejected: LRUCache<string, true>;

  constructor(opts: ApiKeysOptions) {
    this.#db = opts.db;
    this.#adminHash = Buffer.from(hashKey(opts.adminKey), 'hex');
    this.#cache = new LRUCache({ max: 10_000, ttl: opts.cacheTtlMs ?? 60_000 });
    this.#rejected = new LRUCache({ max: 10_000, ttl: opts.rejectedTtlMs ?? 10_000 });
  }

  async create(name: string, tier: Tier): Promise<{ id: string; key: string; tier: Tier; name: string }> {
    const key = generateKey();
    const id = newId('key');
    await this.#db.insert(apiKeys).values({ id, name, tier, keyHash: hashKey(key) });
    return { id, key, tier, name };
  }

  /**
   * The caller for a presented key, or undefined when the key is unknown. Only
   * a well-formed key neither cached nor recently rejected reaches Postgres
   * (so only it can fail with Postgres down); `guard` is consulted for every
   * key not known valid.
   */
  async resolve(key: string, guard?: LookupGuard): Promise<Caller | undefined> {
    const hash = hashKey(key);
    const hit = this.#cache.get(hash);
    if (hit) return hit;
    if (timingSafeEqual(Buffer.from(hash, 'hex'), this.#adminHash)) return { keyId: 'admin', tier: 'enterprise', admin: true };
    guard?.admit();
    if (!ISSUED_KEY.test(key) || this.#rejected.has(hash)) return undefined;
    await guard?.beforeLookup();
    const [row] = await this.#db.select({ id: apiKeys.id, tier: apiKeys.tier }).from(apiKeys).where(eq(apiKeys.keyHash, hash));
    if (!row) {
      this.#rejected.set(hash, true);
      await guard?.missed();
      return undefined;
    }
    const caller: Caller = { keyId: row.id, tier: row.tier, admin: false };
    this.#cache.set(hash, caller);
    return caller;
  }
}
