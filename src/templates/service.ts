import { and, desc, eq, isNull, sql } from 'drizzle-orm';
import { LRUCache } from 'lru-cache';
import type { InvalidationBus } from '../cache/bus.js';
import type { Db } from '../db/client.js';
import { newId } from '../db/ids.js';
import { templates, templateVersions, type TemplateRow, type TemplateVersionRow } from '../db/schema.js';
import { AppError } from '../errors/app-error.js';
import type { Scope } from '../auth/caller.js';
import { inScope } from '../db/scope.js';
import type { ProviderRegistry } from '../providers/registry.js';
import { checkOutputSchema } from './output-schema.js';
import { placeholderError, placeholders } from './render.js';

export type TemplateInput = Pick<TemplateRow, 'name' | 'body'> &
  Partial<Pick<TemplateRow, 'system' | 'provider' | 'model' | 'maxTokens' | 'temperature' | 'outputSchema' | 'cacheTtlSeconds' | 'keyFields'>>;

/** Every `{{` opens a well-formed placeholder, and keyFields names variables the template uses (or the key would miss them). */
function check(t: Pick<TemplateRow, 'body' | 'system' | 'keyFields'>): void {
  for (const field of ['body', 'system'] as const) {
    const text = t[field];
    const e = text ? placeholderError(text) : undefined;
    if (e) {
      throw new AppError('invalid_template', `${field} line ${e.line}, column ${e.column}: the placeholder at "${e.near}" ${e.reason}.`, { field, ...e });
    }
  }
  if (!t.keyFields) return;
  const used = new Set(placeholders(t.body, t.system));
  const unknown = t.keyFields.filter((f) => !used.has(f));
  if (unknown.length) {
    throw new AppError('invalid_template', `keyFields names variables the template does not use: ${unknown.join(', ')}.`, { keyFields: unknown });
  }
}

/** The version row a template row is saved as. */
const versionOf = (t: TemplateRow) => ({
  templateId: t.id, version: t.version, name: t.name, body: t.body, system: t.system, provider: t.provider, model: t.model,
  maxTokens: t.maxTokens, temperature: t.temperature, outputSchema: t.outputSchema, cacheTtlSeconds: t.cacheTtlSeconds,
  keyFields: t.keyFields, createdAt: t.updatedAt,
});

const live = (id: string, scope: Scope) => and(eq(templates.id, id), isNull(templates.deletedAt), inScope(templates.projectId, scope));

/**
 * Template CRUD. Deletion is soft, so the generations that used a template keep
 * their record. Reads go through a small in-process LRU; every change is
 * published on the invalidation bus, so no process serves a stale version.
 */
export class Templates {
  readonly #lru: LRUCache<string, TemplateRow>;
  readonly #reads = new Map<string, Promise<TemplateRow | undefined>>();
  readonly #refreshWithinMs: number;
  #epoch = 0;

  /**
   * `localTtlMs` bounds how long a template is served from memory should an invalidation be
   * missed; `providers` is the registry a template's provider must be in.
   */
  constructor(
    private readonly db: Db,
    private readonly bus: InvalidationBus,
    localTtlMs = 5000,
    private readonly providers: Pick<ProviderRegistry, 'has'> = { has: () => true },
  ) {
    this.#lru = new LRUCache({ max: 1000, ttl: Math.max(1, localTtlMs) });
    this.#refreshWithinMs = localTtlMs / 5;
    bus.on((msg) => {
      if (msg.kind !== 'template' && msg.kind !== 'all') return;
      this.#epoch++;
      // A read in flight may predate the change: requests from now on start their own.
      if (msg.kind === 'all') {
        this.#lru.clear();
        this.#reads.clear();
      } else {
        this.#lru.delete(msg.id);
        this.#reads.delete(msg.id);
      }
    });
  }

  /** Creates a template in `projectId`. */
  async create(input: TemplateInput, projectId: string): Promise<TemplateRow> {
    this.#checkProvider(input.provider);
    check({ body: input.body, system: input.system ?? null, keyFields: input.keyFields ?? null });
    checkOutputSchema(input.outputSchema);
    return this.db.transaction(async (tx) => {
      const [row] = await tx.insert(templates).values({ ...input, projectId, id: newId('tpl') }).returning();
      await tx.insert(templateVersions).values(versionOf(row!));
      return row!;
    });
  }

  /** A provider the registry does not have is refused; one without a key here is not (another deployment may have it). */
  #checkProvider(provider: string | null | undefined): void {
    if (provider != null && !this.providers.has(provider)) {
      throw new AppError('provider_unavailable', `There is no provider ${provider}.`, { provider });
    }
  }

  /**
   * The live template `id` in `scope`; 404 `template_not_found` when deleted, absent or another project's.
   * Requests that miss share one read per id, and a template in use is read again in the background in
   * the last fifth of its time in memory: a hot template never makes a request wait on Postgres, and the
   * requests in flight when it expires do not each send the same read.
   */
  async get(id: string, scope: Scope): Promise<TemplateRow> {
    const row = this.#lru.get(id, { allowStale: false }) ?? (await this.#read(id));
    if (row && this.#lru.getRemainingTTL(id) < this.#refreshWithinMs) this.#read(id).catch(() => {}); // the next request tries again
    if (!row || (scope.projectId !== null && row.projectId !== scope.projectId)) throw new AppError('template_not_found', `No template ${id}.`);
    return row;
  }

  /** Reads `id` (the one read in flight for it, if any) and keeps it in memory unless an invalidation raced the read. */
  #read(id: string): Promise<TemplateRow | undefined> {
    let read = this.#reads.get(id);
    if (!read) {
      const epoch = this.#epoch;
      read = this.db.select().from(templates).where(and(eq(templates.id, id), isNull(templates.deletedAt))).then(([row]) => {
        if (row && epoch === this.#epoch) this.#lru.set(id, row);
        return row;
      }).finally(() => {
        if (this.#reads.get(id) === read) this.#reads.delete(id);
      });
      this.#reads.set(id, read);
    }
    return read;
  }

  list(scope: Scope, limit = 100): Promise<TemplateRow[]> {
    return this.db.select().from(templates).where(and(isNull(templates.deletedAt), inScope(templates.projectId, scope))).orderBy(desc(templates.createdAt)).limit(limit);
  }

  /** Applies a change and bumps `version`, so cache entries of the old version can no longer match. */
  async update(id: string, patch: Partial<TemplateInput>, scope: Scope): Promise<TemplateRow> {
    this.#checkProvider(patch.provider);
    const current = await this.get(id, scope);
    check({ ...current, ...patch });
    checkOutputSchema(patch.outputSchema);
    const row = await this.db.transaction(async (tx) => {
      const [changed] = await tx
        .update(templates)
        .set({ ...patch, version: sql`${templates.version} + 1`, updatedAt: new Date() })
        .where(live(id, scope))
        .returning();
      if (changed) await tx.insert(templateVersions).values(versionOf(changed));
      return changed;
    });
    if (!row) throw new AppError('template_not_found', `No template ${id}.`);
    await this.bus.publish({ kind: 'template', id });
    return row;
  }

  /** Every kept version of a live template, newest first. */
  async versions(id: string, scope: Scope): Promise<TemplateVersionRow[]> {
    await this.get(id, scope);
    return this.db.select().from(templateVersions).where(eq(templateVersions.templateId, id)).orderBy(desc(templateVersions.version));
  }

  /** One version of a live template; a version saved before versions were kept is `template_version_not_found`. */
  async version(id: string, version: number, scope: Scope): Promise<TemplateVersionRow> {
    await this.get(id, scope);
    const [row] = await this.db.select().from(templateVersions).where(and(eq(templateVersions.templateId, id), eq(templateVersions.version, version)));
    if (!row) throw new AppError('template_version_not_found', `Template ${id} has no kept version ${version}.`, { templateId: id, version });
    return row;
  }

  /** Soft-deletes the template; resolves to its project (for the audit log). */
  async remove(id: string, scope: Scope): Promise<string> {
    const rows = await this.db.update(templates).set({ deletedAt: new Date() }).where(live(id, scope)).returning({ projectId: templates.projectId });
    if (!rows.length) throw new AppError('template_not_found', `No template ${id}.`);
    await this.bus.publish({ kind: 'template', id });
    return rows[0]!.projectId;
  }
}
