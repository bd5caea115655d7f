import { and, desc, eq, gte, lt, lte, type SQL } from 'drizzle-orm';
import type { FastifyRequest } from 'fastify';
import type { Scope } from '../auth/caller.js';
import type { Db } from '../db/client.js';
import { auditLog } from '../db/schema.js';
import { inScope } from '../db/scope.js';
import { AppError } from '../errors/app-error.js';

/** Every administrative action the audit log records. */
export const AUDIT_ACTIONS = [
  'project.created', 'project.changed',
  'api_key.created', 'api_key.changed', 'api_key.revoked', 'api_key.rotated', 'api_key.webhook_secret_rotated',
  'budget.changed', 'template.deleted', 'dead_letter.replayed', 'cache.cleared', 'routes.changed',
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

export interface AuditEntry {
  id: string;
  at: string;
  keyId: string;
  projectId: string | null;
  action: string;
  target: string | null;
  requestId: string | null;
  details: Record<string, unknown> | null;
}

export interface AuditQuery {
  from?: string;
  to?: string;
  action?: AuditAction;
  /** @defaultValue 100 */
  limit?: number;
  cursor?: string;
}

/**
 * The audit log: one row per administrative action, written after the action
 * succeeded (an action that failed changed nothing to record). Read newest first,
 * confined to a project for project admins.
 */
export class AuditLog {
  constructor(private readonly db: Db) {}

  /** Records `action` on `target` by the request's caller, in `projectId` (null: no one project). */
  async record(request: FastifyRequest, action: AuditAction, target: string | null, projectId: string | null, details?: Record<string, unknown>): Promise<void> {
    await this.db.insert(auditLog).values({
      keyId: request.caller!.keyId, projectId, action, target, requestId: request.id, details: details ?? null,
    });
  }

  async list(q: AuditQuery, scope: Scope): Promise<{ data: AuditEntry[]; nextCursor: string | null }> {
    const limit = q.limit ?? 100;
    const where: (SQL | undefined)[] = [inScope(auditLog.projectId, scope)];
    if (q.from) where.push(gte(auditLog.at, new Date(q.from)));
    if (q.to) where.push(lte(auditLog.at, new Date(q.to)));
    if (q.action) where.push(eq(auditLog.action, q.action));
    if (q.cursor) {
      if (!/^[0-9]{1,18}$/.test(q.cursor)) throw new AppError('bad_request', 'invalid cursor: pass a nextCursor back exactly as it was given.');
      where.push(lt(auditLog.id, Number(q.cursor)));
    }
    const rows = await this.db.select().from(auditLog).where(and(...where)).orderBy(desc(auditLog.id)).limit(limit + 1);
    const page = rows.slice(0, limit);
    return {
      data: page.map((r) => ({ ...r, id: String(r.id), at: r.at.toISOString() })),
      nextCursor: rows.length > limit ? String(page[page.length - 1]!.id) : null,
    };
  }
}
