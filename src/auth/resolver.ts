import { timingSafeEqual } from 'node:crypto';
import { and, eq, gt, isNull, or, sql, type SQL } from 'drizzle-orm';
import { LRUCache } from 'lru-cache';
import type { InvalidationBus } from '../cache/bus.js';
import type { Db } from '../db/client.js';
import { apiKeys } from '../db/schema.js';
import { isConnectivityError } from '../errors/connectivity.js';
import type { Caller } from './caller.js';
import { hashKey, ISSUED_KEY, sameHash } from './secret.js';

/** `last_used_at` is written at most this often per key and process. */
const LAST_USED_EVERY_MS = 60_000;

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

export interface KeyResolverOptions {
  db: Db;
  adminKey: string;
  /**
   * How long a resolved key is used without asking Postgres again (while the bus listens): the
   * bound on how long a change the bus could not carry (the revoking process cut off from Redis
   * while this one is not, or a row changed in SQL) goes unseen. One re-read per active key and
   * process a second. @defaultValue 1000
   */
  freshMs?: number;
  /**
   * How long a resolved key is kept at all: a key re-read while Postgres is unreachable is
   * answered from this stale copy, so cached keys keep working through a Postgres outage
   * (no revocation can be written meanwhile). @defaultValue 60000
   */
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
   * at once instead of after `cacheTtlMs`. While its subscriber is not connected
   * the cache is not trusted: each request re-reads the key in Postgres, so a
   * revocation is seen even with Redis down. Without a bus only this process
   * learns of changes.
   */
  bus?: InvalidationBus;
}

/** A resolved key as cached: the caller, and the instants after which the presented secret no longer opens it. */
interface Resolved {
  caller: Caller;
  /** The key's `expires_at`, or the end of the old secret's grace after a rotation (ms); null: never. */
  validUntil: number | null;
  /** When Postgres said so (ms). */
  checkedAt: number;
}

/**
 * Resolves a bearer key to its caller, with small in-process LRUs in front of
 * Postgres: one of resolved keys, one of recently rejected ones. Changes to a
 * key reach every process through the bus (`invalidate`).
 */
export class KeyResolver {
  readonly #db: Db;
  readonly #adminHash: Buffer;
  readonly #cache: LRUCache<string, Resolved>;
  readonly #freshMs: number;
  readonly #rechecks = new Map<string, Promise<Resolved | undefined>>();
  readonly #rejected: LRUCache<string, true>;
  readonly #bus: InvalidationBus | undefined;
  readonly #touched = new LRUCache<string, number>({ max: 10_000 });
  /** Bumped by every invalidation: a lookup that straddled one does not cache what it read. */
  #epoch = 0;
  #refresher: NodeJS.Timeout | undefined;
  #refreshing = false;

  constructor(opts: KeyResolverOptions) {
    this.#db = opts.db;
    this.#adminHash = Buffer.from(hashKey(opts.adminKey), 'hex');
    this.#cache = new LRUCache({ max: 10_000, ttl: opts.cacheTtlMs ?? 60_000 });
    this.#freshMs = opts.freshMs ?? 1_000;
    this.#rejected = new LRUCache({ max: 10_000, ttl: opts.rejectedTtlMs ?? 10_000 });
    this.#bus = opts.bus;
    this.#bus?.on((msg) => {
      if (msg.kind === 'api_key') this.#drop(msg.keyId);
      else if (msg.kind === 'all') {
        this.#epoch++;
        this.#cache.clear();
      }
    });
    // With a bus, keys in use are re-read ahead of the request that would find them stale.
    if (this.#bus) this.#refresher = setInterval(() => void this.#refresh(), Math.max(50, this.#freshMs / 2)).unref();
  }

  /** Stops re-reading the cached keys. */
  close(): void {
    clearInterval(this.#refresher);
  }

  /**
   * Every cached key re-read in one statement, every `freshMs / 2` while the bus listens: a key in
   * use then stays fresh, so the request of a key used less than once a second does not wait for
   * its own Postgres read (about a millisecond of its latency), and a change the bus could not carry
   * is still seen within `freshMs`. A failed read changes nothing: entries age, and `resolve`
   * re-reads (or answers from the copy while Postgres is unreachable) as without it.
   */
  async #refresh(): Promise<void> {
    if (this.#refreshing || this.#cache.size === 0 || !this.#bus?.listening) return;
    this.#refreshing = true;
    const epoch = this.#epoch;
    const hashes = [...this.#cache.keys()];
    const readAt = Date.now();
    try {
      const rows = await usableKeys(this.#db, sql`any(${sql.param(hashes)}::text[])`);
      if (epoch !== this.#epoch) return; // an invalidation straddled the read: its keys are re-read on use
      const byHash = new Map<string, KeyRow>();
      for (const row of rows) {
        byHash.set(row.keyHash, row);
        if (row.previousKeyHash) byHash.set(row.previousKeyHash, row);
      }
      for (const hash of hashes) {
        const entry = this.#cache.peek(hash);
        if (!entry) continue; // expired meanwhile
        const row = byHash.get(hash);
        const fresh = row && resolvedOf(row, hash, readAt);
        if (fresh) Object.assign(entry, fresh); // in place: the entry keeps its time to live
        else this.#cache.delete(hash);
      }
    } catch {
      // Postgres unreachable or slow: nothing is refreshed.
    } finally {
      this.#refreshing = false;
    }
  }

  /** Makes every process (this one only, without a bus) forget its cached caller of the key `id`. */
  async invalidate(id: string): Promise<void> {
    if (this.#bus) await this.#bus.publish({ kind: 'api_key', keyId: id });
    else this.#drop(id);
  }

  /** Forgets the cached caller of `keyId`. A scan, not an index: changes are rare and the LRU is bounded. */
  #drop(keyId: string): void {
    this.#epoch++;
    for (const [hash, r] of this.#cache.entries()) {
      if (r.caller.keyId === keyId) this.#cache.delete(hash);
    }
  }

  /**
   * The caller of a key checked moments ago (cached, fresh, unexpired), at once; undefined
   * otherwise, when `resolve` must decide.
   */
  fresh(key: string): Caller | undefined {
    const hit = this.#cache.get(hashKey(key));
    return hit && (hit.validUntil === null || Date.now() < hit.validUntil) && this.#isFresh(hit) ? this.#used(hit.caller) : undefined;
  }

  /** Checked within the last `freshMs` while the bus that carries revocations listens. */
  #isFresh(hit: Resolved): boolean {
    return (!this.#bus || this.#bus.listening) && Date.now() - hit.checkedAt < this.#freshMs;
  }

  /**
   * The caller for a presented key, or undefined when the key is unknown,
   * revoked, expired, or an old secret past its rotation grace. Only a
   * well-formed key neither cached nor recently rejected reaches Postgres
   * through `guard`; a cached key is re-read in Postgres (without the guard)
   * while the bus is not listening, so a revocation published meanwhile
   * cannot be missed.
   */
  async resolve(key: string, guard?: LookupGuard): Promise<Caller | undefined> {
    const hash = hashKey(key);
    const hit = this.#cache.get(hash);
    if (hit) {
      if (hit.validUntil !== null && Date.now() >= hit.validUntil) {
        this.#cache.delete(hash);
        return undefined;
      }
      if (this.#isFresh(hit)) return this.#used(hit.caller);
      return (await this.#recheck(hash, hit))?.caller;
    }
    if (timingSafeEqual(Buffer.from(hash, 'hex'), this.#adminHash)) {
      return { keyId: 'admin', tier: 'enterprise', admin: true, role: 'global_admin', projectId: null };
    }
    guard?.admit();
    if (!ISSUED_KEY.test(key) || this.#rejected.has(hash)) return undefined;
    await guard?.beforeLookup();
    const found = await this.#lookup(hash);
    if (!found) {
      this.#rejected.set(hash, true);
      await guard?.missed();
      return undefined;
    }
    return this.#used(found.caller);
  }

  /** The key whose current secret, or old secret inside its grace, hashes to `hash`, if it is usable now; cached when no invalidation raced the read. */
  async #lookup(hash: string): Promise<Resolved | undefined> {
    const epoch = this.#epoch;
    const [row] = await usableKeys(this.#db, sql`${hash}`);
    const resolved = row && resolvedOf(row, hash, Date.now());
    if (!resolved) {
      this.#cache.delete(hash);
      return undefined;
    }
    if (epoch === this.#epoch) this.#cache.set(hash, resolved);
    return resolved;
  }

  /**
   * A cached key asked of Postgres again, once for all the requests that need it meanwhile. While
   * Postgres is unreachable the copy read before it went away answers (no revocation can be written
   * meanwhile), and counts as checked, so the requests after it do not each wait for a timeout.
   */
  #recheck(hash: string, hit: Resolved): Promise<Resolved | undefined> {
    let pending = this.#rechecks.get(hash);
    if (!pending) {
      pending = this.#lookup(hash).catch((err: unknown) => {
        if (!isConnectivityError(err)) throw err;
        hit.checkedAt = Date.now();
        return hit;
      }).finally(() => this.#rechecks.delete(hash));
      this.#rechecks.set(hash, pending);
    }
    return pending.then((r) => {
      if (r) this.#used(r.caller);
      return r;
    });
  }

  /** Records `last_used_at`, at most once a minute per key and process, without holding the request. */
  #used(caller: Caller): Caller {
    const now = Date.now();
    const last = this.#touched.get(caller.keyId);
    if (last === undefined || now - last >= LAST_USED_EVERY_MS) {
      this.#touched.set(caller.keyId, now);
      this.#db.update(apiKeys).set({ lastUsedAt: new Date(now) }).where(eq(apiKeys.id, caller.keyId)).then(() => {}, () => {});
    }
    return caller;
  }
}

const KEY_COLUMNS = {
  id: apiKeys.id, tier: apiKeys.tier, allowedModels: apiKeys.allowedModels, priority: apiKeys.priority, role: apiKeys.role, projectId: apiKeys.projectId,
  keyHash: apiKeys.keyHash, previousKeyHash: apiKeys.previousKeyHash, expiresAt: apiKeys.expiresAt, previousValidUntil: apiKeys.previousValidUntil,
};

/**
 * The usable keys (not revoked, not expired) whose current secret, or old one inside its grace,
 * hashes to `hashes`: one hash (`sql\`${hash}\``) or any of many (`sql\`any(${array}::text[])\``).
 */
const usableKeys = (db: Db, hashes: SQL) =>
  db.select(KEY_COLUMNS).from(apiKeys).where(and(
    or(sql`${apiKeys.keyHash} = ${hashes}`, and(sql`${apiKeys.previousKeyHash} = ${hashes}`, gt(apiKeys.previousValidUntil, sql`now()`))),
    isNull(apiKeys.revokedAt),
    or(isNull(apiKeys.expiresAt), gt(apiKeys.expiresAt, sql`now()`)),
  ));
type KeyRow = Awaited<ReturnType<typeof usableKeys>>[number];

/** The caller a usable key's row gives the secret hashing to `hash` (its current one, or its old one inside its grace); undefined when neither matches. */
function resolvedOf(row: KeyRow, hash: string, checkedAt: number): Resolved | undefined {
  const current = sameHash(row.keyHash, hash);
  if (!current && !(row.previousKeyHash && sameHash(row.previousKeyHash, hash))) return undefined;
  const ends = [row.expiresAt?.getTime(), current ? undefined : row.previousValidUntil?.getTime()].filter((t): t is number => t !== undefined);
  return {
    caller: {
      keyId: row.id, tier: row.tier, admin: false, role: row.role, projectId: row.projectId,
      ...(row.allowedModels ? { allowedModels: row.allowedModels } : {}),
      ...(row.priority ? { priority: row.priority } : {}),
    },
    validUntil: ends.length ? Math.min(...ends) : null,
    checkedAt,
  };
}
