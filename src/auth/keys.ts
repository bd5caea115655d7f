import { and, desc, eq, gt, isNull, or, sql } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { newId } from '../db/ids.js';
import { apiKeys, type ApiKeyRow, type Priority } from '../db/schema.js';
import { inScope } from '../db/scope.js';
import { AppError } from '../errors/app-error.js';
import type { Caller, Scope, Tier } from './caller.js';
import { KeyResolver, type KeyResolverOptions, type LookupGuard } from './resolver.js';
import { displayPrefix, generateKey, hashKey } from './secret.js';

/** Longest grace a rotation may give the old secret. */
export const MAX_ROTATION_GRACE_S = 7 * 24 * 3600;
/** How long the old secret stays valid after a rotation unless `graceSeconds` says otherwise. */
export const DEFAULT_ROTATION_GRACE_S = 3600;

/** An API key as the admin routes show it: never the key or its hash. */
export interface ApiKeyView {
  id: string;
  name: string;
  tier: Tier;
  role: 'admin' | 'member';
  projectId: string;
  /** `pl_live_AbCd`: enough to recognise the key, never enough to use it. */
  prefix: string | null;
  /** `provider/model` patterns; null: the tier's (MODELS_<TIER>). */
  allowedModels: string[] | null;
  /** Queue class when a request names none; null: the tier's (PRIORITY_<TIER>). */
  priority: Priority | null;
  createdAt: string;
  lastUsedAt: string | null;
  expiresAt: string | null;
  revokedAt: string | null;
}

export interface NewKey {
  name: string;
  tier: Tier;
  role: 'admin' | 'member';
  projectId: string;
  allowedModels?: string[];
  priority?: Priority;
  expiresAt?: Date;
}

/** Fields `PATCH /v1/api-keys/:id` may change; an absent field is left as it is. */
export interface ApiKeyPatch {
  /** null: back to the tier's list. */
  allowedModels?: string[] | null;
  /** null: back to the tier's class. */
  priority?: Priority | null;
}

const VIEW = {
  id: apiKeys.id, name: apiKeys.name, tier: apiKeys.tier, role: apiKeys.role, projectId: apiKeys.projectId, prefix: apiKeys.prefix,
  allowedModels: apiKeys.allowedModels, priority: apiKeys.priority, createdAt: apiKeys.createdAt, lastUsedAt: apiKeys.lastUsedAt, expiresAt: apiKeys.expiresAt,
  revokedAt: apiKeys.revokedAt,
};
type ViewRow = Pick<ApiKeyRow, keyof typeof VIEW>;
const iso = (d: Date | null) => (d ? d.toISOString() : null);
const show = (r: ViewRow): ApiKeyView => ({
  ...r, createdAt: r.createdAt.toISOString(), lastUsedAt: iso(r.lastUsedAt), expiresAt: iso(r.expiresAt), revokedAt: iso(r.revokedAt),
});

/**
 * Creates, lists, rotates and revokes keys (every change reaches every
 * process's KeyResolver), and resolves a bearer key to its caller.
 */
export class ApiKeys {
  readonly #db: Db;
  readonly #resolver: KeyResolver;

  constructor(opts: KeyResolverOptions) {
    this.#db = opts.db;
    this.#resolver = new KeyResolver(opts);
  }

  /** Stops the resolver's background re-reads. */
  close(): void {
    this.#resolver.close();
  }

  /**
   * The caller for a presented key, or undefined when the key is unknown, revoked, expired,
   * or an old secret past its rotation grace (KeyResolver.resolve).
   */
  resolve(key: string, guard?: LookupGuard): Promise<Caller | undefined> {
    return this.#resolver.resolve(key, guard);
  }

  /** The caller of a key checked moments ago, at once; undefined when `resolve` must decide (KeyResolver.fresh). */
  fresh(key: string): Caller | undefined {
    return this.#resolver.fresh(key);
  }

  async create(k: NewKey): Promise<ApiKeyView & { key: string }> {
    const key = generateKey();
    const id = newId('key');
    const [row] = await this.#db.insert(apiKeys).values({
      id, name: k.name, tier: k.tier, role: k.role, projectId: k.projectId, keyHash: hashKey(key), prefix: displayPrefix(key),
      allowedModels: k.allowedModels ?? null, priority: k.priority ?? null, expiresAt: k.expiresAt ?? null,
    }).returning(VIEW);
    return { ...show(row!), key };
  }

  /** The key `id` in `scope`, or a 404 `api_key_not_found` (also for another project's key). */
  async get(id: string, scope: Scope): Promise<ApiKeyView> {
    const [row] = await this.#db.select(VIEW).from(apiKeys).where(and(eq(apiKeys.id, id), inScope(apiKeys.projectId, scope)));
    if (!row) throw new AppError('api_key_not_found', `No API key ${id}.`);
    return show(row);
  }

  /** Keys of `scope`, newest first (revoked ones too, with `revokedAt`). */
  async list(scope: Scope, limit = 500): Promise<ApiKeyView[]> {
    const rows = await this.#db.select(VIEW).from(apiKeys).where(inScope(apiKeys.projectId, scope))
      .orderBy(desc(apiKeys.createdAt), desc(apiKeys.id)).limit(limit);
    return rows.map(show);
  }

  /**
   * Applies `patch` to the key `id` (404 `api_key_not_found` when there is
   * none in `scope`), then makes every process forget its cached caller for that key.
   */
  async update(id: string, patch: ApiKeyPatch, scope: Scope): Promise<ApiKeyView> {
    const set: Partial<typeof apiKeys.$inferInsert> = {};
    if (patch.allowedModels !== undefined) set.allowedModels = patch.allowedModels;
    if (patch.priority !== undefined) set.priority = patch.priority;
    if (Object.keys(set).length === 0) return this.get(id, scope);
    return this.#change(id, scope, set);
  }

  /**
   * Revokes the key `id`: from the moment this resolves, no process accepts it (the bus drops
   * every process's cached caller; a process whose bus is down re-reads Postgres on each request).
   * Revoking a revoked key changes nothing and answers it as it is.
   */
  async revoke(id: string, scope: Scope): Promise<ApiKeyView> {
    const [row] = await this.#db.update(apiKeys).set({ revokedAt: sql`coalesce(${apiKeys.revokedAt}, now())`, previousValidUntil: null })
      .where(and(eq(apiKeys.id, id), inScope(apiKeys.projectId, scope))).returning(VIEW);
    if (!row) throw new AppError('api_key_not_found', `No API key ${id}.`);
    await this.#resolver.invalidate(id);
    return show(row);
  }

  /**
   * Gives the key `id` a new secret; the old one stays valid for `graceSeconds` (a rotation before
   * that ends the secret before it at once). A revoked or expired key cannot be rotated (404).
   */
  async rotate(id: string, graceSeconds: number, scope: Scope): Promise<ApiKeyView & { key: string; previousKeyValidUntil: string }> {
    const key = generateKey();
    const [row] = await this.#db.update(apiKeys).set({
      keyHash: hashKey(key), prefix: displayPrefix(key), previousKeyHash: apiKeys.keyHash,
      previousValidUntil: sql`now() + make_interval(secs => ${graceSeconds})`,
    }).where(and(eq(apiKeys.id, id), inScope(apiKeys.projectId, scope), isNull(apiKeys.revokedAt),
      or(isNull(apiKeys.expiresAt), gt(apiKeys.expiresAt, sql`now()`))))
      .returning({ ...VIEW, previousValidUntil: apiKeys.previousValidUntil });
    if (!row) throw new AppError('api_key_not_found', `No usable API key ${id}.`);
    await this.#resolver.invalidate(id);
    const { previousValidUntil, ...view } = row;
    return { ...show(view), key, previousKeyValidUntil: previousValidUntil!.toISOString() };
  }

  async #change(id: string, scope: Scope, set: Partial<typeof apiKeys.$inferInsert>): Promise<ApiKeyView> {
    const [row] = await this.#db.update(apiKeys).set(set).where(and(eq(apiKeys.id, id), inScope(apiKeys.projectId, scope))).returning(VIEW);
    if (!row) throw new AppError('api_key_not_found', `No API key ${id}.`);
    await this.#resolver.invalidate(id);
    return show(row);
  }
}
