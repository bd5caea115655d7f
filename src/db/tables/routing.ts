import type { RoutingDocument } from '../../routing/document.js';
import { integer, jsonb, pgTable, text, timestamptz } from '../columns.js';

/** Every version of the routing document (ROUTES_FILE at boot, PUT /v1/routes): the last one is in force. */
export const routingVersions = pgTable('routing_versions', {
  version: integer('version').primaryKey().generatedAlwaysAsIdentity(),
  document: jsonb('document').$type<RoutingDocument>().notNull(),
  /** `file` (ROUTES_FILE, loaded at boot when it differs from the version in force) or `api`. */
  source: text('source', { enum: ['file', 'api'] }).notNull(),
  /** The key that put it (`admin` for the admin key); null for the file. */
  createdBy: text('created_by'),
  createdAt: timestamptz('created_at').notNull().defaultNow(),
});

export type RoutingVersionRow = typeof routingVersions.$inferSelect;
