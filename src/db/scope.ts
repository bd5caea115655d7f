import { eq, type SQL } from 'drizzle-orm';
import type { PgColumn } from 'drizzle-orm/pg-core';
import type { Scope } from '../auth/caller.js';

/**
 * The one way a query is confined to a caller's project: `eq(column, projectId)`, or nothing for
 * a scope across projects (the global admin). Put it in the WHERE of every read and write of a
 * project-scoped table, so that another project's row is simply not found (404, never 403).
 */
export function inScope(column: PgColumn, scope: Scope): SQL | undefined {
  return scope.projectId === null ? undefined : eq(column, scope.projectId);
}
