import { and, desc, eq, isNull, sql } from 'drizzle-orm';
import { LRUCache } from 'lru-cache';
import type { InvalidationBus } from '../cache/bus.js';
import type { Db } from '../db/client.js';
import { newId } from '../db/ids.js';
import { templates, templateVersions, type TemplateRow, type TemplateVersionRow } from '../db/schema.js';
import { AppError } from '../errors/app-error.js';
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

const live = (id: string) => and(eq(templates.id, id), isNull(templates.deletedAt));

/**
 * Template CRUD. Deletion is soft, so the generations that used a template keep
 * their record. Reads go through a small in-process LRU; every change is
 * published on the invalidation bus, so no process serves a stale version.
 */
export class Templates {
  readonly #lru: LRUCache<string, TemplateRow>;
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
    bus.on((msg) => {
      if (msg.kind !== 'template' && msg.kind !== 'all') return;
      this.#epoch++;
      if (msg.kind === 'all') this.#lru.clear();
      else this.#lru.delete(msg.id);
    });
  }

  async create(input: TemplateInput): Promise<TemplateRow> {
    this.#checkProvider(input.provider);
    check({ body: input.body, system: input.system ?? null, keyFields: input.keyFields ?? null });
    checkOutputSchema(input.outputSchema);
    return this.db.transaction(async (tx) => {
      const [row] = await tx.insert(templates).values({ ...input, id: newId('tpl') }).returning();
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

  async get(id: string): Promise<TemplateRow> {
    const hit = this.#lru.get(id, { allowStale: false });
    if (hit) return hit;
    const epoch = this.#epoch;
    const [row] = await this.db.select().from(templates).where(live(id));
    if (!row) throw new AppError('template_not_found', `No template ${id}.`);
    if (epoch === this.#epoch) this.#lru.set(id, row); // no invalidation raced this read
    return row;
  }

  list(limit = 100): Promise<TemplateRow[]> {
    return this.db.select().from(templates).where(isNull(templates.deletedAt)).orderBy(desc(templates.createdAt)).limit(limit);
  }

  /** Applies a change and bumps `version`, so cache entries of the old version can no longer match. */
  async update(id: string, patch: Partial<TemplateInput>): Promise<TemplateRow> {
    this.#checkProvider(patch.provider);
    const current = await this.get(id);
    check({ ...current, ...patch });
    checkOutputSchema(patch.outputSchema);
    const row = await this.db.transaction(async (tx) => {
      const [changed] = await tx
        .update(templates)
        .set({ ...patch, version: sql`${templates.version} + 1`, updatedAt: new Date() })
        .where(live(id))
        .returning();
      if (changed) await tx.insert(templateVersions).values(versionOf(changed));
      return changed;
    });
    if (!row) throw new AppError('template_not_found', `No template ${id}.`);
    await this.bus.publish({ kind: 'template', id });
    return row;
  }

  /** Every kept version of a live template, newest first. */
  async versions(id: string): Promise<TemplateVersionRow[]> {
    await this.get(id);
    return this.db.select().from(templateVersions).where(eq(templateVersions.templateId, id)).orderBy(desc(templateVersions.version));
  }

  /** One version of a live template; a version saved before versions were kept is `template_version_not_found`. */
  async version(id: string, version: number): Promise<TemplateVersionRow> {
    await this.get(id);
    const [row] = await this.db.select().from(templateVersions).where(and(eq(templateVersions.templateId, id), eq(templateVersions.version, version)));
    if (!row) throw new AppError('template_version_not_found', `Template ${id} has no kept version ${version}.`, { templateId: id, version });
    return row;
  }

  async remove(id: string): Promise<void> {
    const rows = await this.db.update(templates).set({ deletedAt: new Date() }).where(live(id)).returning({ id: templates.id });
    if (!rows.length) throw new AppError('template_not_found', `No template ${id}.`);
    await this.bus.publish({ kind: 'template', id });
  }
}
