import { doublePrecision, integer, jsonb, pgTable, primaryKey, text, timestamptz } from '../columns.js';
import { DEFAULT_PROJECT } from '../../llm/hash.js';

/**
 * What a template says, as both tables keep it: the template as it is, and each saved version
 * (a function: each table needs column builders of its own).
 */
const content = () => ({
  name: text('name').notNull(),
  body: text('body').notNull(),
  system: text('system'),
  provider: text('provider'),
  model: text('model'),
  maxTokens: integer('max_tokens'),
  temperature: doublePrecision('temperature'),
  outputSchema: jsonb('output_schema').$type<Record<string, unknown>>(),
  cacheTtlSeconds: integer('cache_ttl_seconds'),
  keyFields: jsonb('key_fields').$type<string[]>(),
});

/** Prompt templates; `version` is bumped on every change so old cache keys stop matching. */
export const templates = pgTable('templates', {
  id: text('id').primaryKey(),
  projectId: text('project_id').notNull().default(DEFAULT_PROJECT),
  ...content(),
  version: integer('version').notNull().default(1),
  createdAt: timestamptz('created_at').notNull().defaultNow(),
  updatedAt: timestamptz('updated_at').notNull().defaultNow(),
  deletedAt: timestamptz('deleted_at'),
});

/**
 * Every version of every template as it was saved: written with the template on create and
 * on each change, so a generation's (`template_id`, `template_version`) names the text it used.
 */
export const templateVersions = pgTable(
  'template_versions',
  {
    templateId: text('template_id').notNull().references(() => templates.id),
    version: integer('version').notNull(),
    ...content(),
    createdAt: timestamptz('created_at').notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.templateId, t.version] })],
);

export type TemplateRow = typeof templates.$inferSelect;
export type TemplateVersionRow = typeof templateVersions.$inferSelect;
