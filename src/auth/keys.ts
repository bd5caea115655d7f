import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { LRUCache } from 'lru-cache';
import type { InvalidationBus } from '../cache/bus.js';
import type { Db } from '../db/client.js';
import { newId } from '../db/ids.js';
import { apiKeys, type Priority } from '../db/schema.js';
import { AppError } from '../errors/app-error.js';
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
  /**
   * Where key changes are published, so every process drops its cached caller
   * at once instead of after `cacheTtlMs`. Without it only this process does.
   */
  bus?: InvalidationBus;
}

/** An API key as the admin routes show it: never the key or its hash. */
export interface ApiKeyView {
  id: string;
  name: string;
  tier: Tier;
  /** `provider/model` patterns; null: the tier's (MODELS_<TIER>). */
  allowedModels: string[] | null;
  /** Queue class when a request names none; null: the tier's (PRIORITY_<TIER>). */
  priority: Priority | null;
}

/** Fields `PATCH /v1/api-keys/:id` may change; an absent field is left as it is. */
export interface ApiKeyPatch {
  /** null: back to the tier's list. */
  allowedModels?: string[] | null;
  /** null: back to the tier's class. */
  priority?: Priority | null;
}

const VIEW = { id: apiKeys.id, name: apiKeys.name, tier: apiKeys.tier, allowedModels: apiKeys.allowedModels, priority: apiKeys.priority };

/**
 * Creates keys and resolves a bearer key to its caller, with small in-process
 * LRUs in front of Postgres: one of resolved keys, one of recently rejected ones.
 */
export class ApiKeys {
  readonly #db: Db;
  readonly #adminHash: Buffer;
  readonly #cache: LRUCache<string, Caller>;
  readonly #rejected: LRUCache<string, true>;
  readonly #bus: InvalidationBus | undefined;
  /** Bumped by every invalidation: a lookup that straddled one does not cache what it read. */
  #epoch = 0;

  constructor(opts: ApiKeysOptions) {
    this.#db = opts.db;
    this.#adminHash = Buffer.from(hashKey(opts.adminKey), 'hex');
    this.#cache = new LRUCache({ max: 10_000, ttl: opts.cacheTtlMs ?? 60_000 });
    this.#rejected = new LRUCache({ max: 10_000, ttl: opts.rejectedTtlMs ?? 10_000 });
    this.#bus = opts.bus;
    this.#bus?.on((msg) => {
      if (msg.kind === 'api_key') this.#drop(msg.keyId);
      else if (msg.kind === 'all') {
        this.#epoch++;
        this.#cache.clear();
      }
    });
  }

  async create(name: string, tier: Tier, allowedModels?: string[], priority?: Priority): Promise<ApiKeyView & { key: string }> {
    const key = generateKey();
    const id = newId('key');
    await this.#db.insert(apiKeys).values({ id, name, tier, keyHash: hashKey(key), allowedModels: allowedModels ?? null, priority: priority ?? null });
    return { id, key, tier, name, allowedModels: allowedModels ?? null, priority: priority ?? null };
  }

  /** The key `id`, or a 404 `api_key_not_found`. */
  async get(id: string): Promise<ApiKeyView> {
    const [row] = await this.#db.select(VIEW).from(apiKeys).where(eq(apiKeys.id, id));
    if (!row) throw new AppError('api_key_not_found', `No API key ${id}.`);
    return row;
  }

  /**
   * Applies `patch` to the key `id` (404 `api_key_not_found` when there is
   * none), then makes every process forget its cached caller for that key.
   */
  async update(id: string, patch: ApiKeyPatch): Promise<ApiKeyView> {
    const set: Partial<typeof apiKeys.$inferInsert> = {};
    if (patch.allowedModels !== undefined) set.allowedModels = patch.allowedModels;
    if (patch.priority !== undefined) set.priority = patch.priority;
    if (Object.keys(set).length === 0) return this.get(id);
    const [row] = await this.#db.update(apiKeys).set(set).where(eq(apiKeys.id, id)).returning(VIEW);
    if (!row) throw new AppError('api_key_not_found', `No API key ${id}.`);
    if (this.#bus) await this.#bus.publish({ kind: 'api_key', keyId: id });
    else this.#drop(id);
    return row;
  }

  /** Forgets the cached caller of `keyId`. A scan, not an index: PATCHes are rare and the LRU is bounded. */
  #drop(keyId: string): void {
    this.#epoch++;
    for (const [hash, caller] of this.#cache.entries()) {
      if (caller.keyId === keyId) this.#cache.delete(hash);
    }
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
    const epoch = this.#epoch;
    const [row] = await this.#db
      .select({ id: apiKeys.id, tier: apiKeys.tier, allowedModels: apiKeys.allowedModels, priority: apiKeys.priority })
      .from(apiKeys)
      .where(eq(apiKeys.keyHash, hash));
    if (!row) {
      this.#rejected.set(hash, true);
      await guard?.missed();
      return undefined;
    }
    const caller: Caller = { keyId: row.id, tier: row.tier, admin: false, ...(row.allowedModels ? { allowedModels: row.allowedModels } : {}), ...(row.priority ? { priority: row.priority } : {}) };
    if (epoch === this.#epoch) this.#cache.set(hash, caller);
    return caller;
  }
}
