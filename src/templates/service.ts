import { and, desc, eq, isNull, sql } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { newId } from '../db/ids.js';
import { templates, type TemplateRow } from '../db/schema.js';
import { AppError } from '../errors/app-error.js';
import { placeholders } from './render.js';

export type TemplateInput = Pick<TemplateRow, 'name' | 'body'> &
  Partial<Pick<TemplateRow, 'system' | 'provider' | 'model' | 'maxTokens' | 'temperature' | 'outputSchema' | 'cacheTtlSeconds' | 'keyFields'>>;

/** keyFields must name variables the template uses, or the key would miss them. */
function check(t: Pick<TemplateRow, 'body' | 'system' | 'keyFields'>): void {
  if (!t.keyFields) return;
  const used = new Set(placeholders(t.body, t.system));
  const unknown = t.keyFields.filter((f) => !used.has(f));
  if (unknown.length) {
    throw new AppError('invalid_template', `keyFields names variables the template does not use: ${unknown.join(', ')}.`, { keyFields: unknown });
  }
}

const live = (id: string) => and(eq(templates.id, id), isNull(templates.deletedAt));

/** Template CRUD. Deletion is soft, so the generations that used a template keep their record. */
export class Templates {
  constructor(private readonly db: Db) {}

  async create(input: TemplateInput): Promise<TemplateRow> {
    check({ body: input.body, system: input.system ?? null, keyFields: input.keyFields ?? null });
    const [row] = await this.db.insert(templates).values({ ...input, id: newId('tpl') }).returning();
    return row!;
  }

  async get(id: string): Promise<TemplateRow> {
    const [row] = await this.db.select().from(templates).where(live(id));
    if (!row) throw new AppError('template_not_found', `No template ${id}.`);
    return row;
  }

  list(limit = 100): Promise<TemplateRow[]> {
    return this.db.select().from(templates).where(isNull(templates.deletedAt)).orderBy(desc(templates.createdAt)).limit(limit);
  }

  /** Applies a change and bumps `version`, so cache entries of the old version can no longer match. */
  async update(id: string, patch: Partial<TemplateInput>): Promise<TemplateRow> {
    const current = await this.get(id);
    check({ ...current, ...patch });
    const [row] = await this.db
      .update(templates)
      .set({ ...patch, version: sql`${templates.version} + 1`, updatedAt: new Date() })
      .where(live(id))
      .returning();
    if (!row) throw new AppError('template_not_found', `No template ${id}.`);
    return row;
  }

  async remove(id: string): Promise<void> {
    const rows = await this.db.update(templates).set({ deletedAt: new Date() }).where(live(id)).returning({ id: templates.id });
    if (!rows.length) throw new AppError('template_not_found', `No template ${id}.`);
  }
}
