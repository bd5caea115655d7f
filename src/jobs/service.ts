import { and, asc, desc, eq, gt, gte, inArray, lt, type SQL } from 'drizzle-orm';
import type { Scope } from '../auth/caller.js';
import type { Db } from '../db/client.js';
import { afterCursor, pageOf } from '../db/keyset.js';
import { generations, IN_FLIGHT, type GenerationRow, type JobStatus } from '../db/schema.js';
import { inScope } from '../db/scope.js';
import { AppError } from '../errors/app-error.js';
import { inDateSpan } from '../http/dates.js';

export interface ListJobsQuery {
  status?: JobStatus;
  templateId?: string;
  apiKeyId?: string;
  /** The end user a wire-format call named. */
  endUser?: string;
  /** ISO instant: jobs created at or after it. */
  since?: string;
  /** @defaultValue 20 */
  limit?: number;
  cursor?: string;
}

/**
 * Reads generations, the lasting record of every job: the one place that selects their rows
 * (the Ledger's statements write them).
 */
export class Jobs {
  constructor(private readonly db: Db) {}

  /** The generation `id`, whatever its project (the system's own reads); undefined when there is none. */
  async find(id: string): Promise<GenerationRow | undefined> {
    const [row] = await this.db.select().from(generations).where(eq(generations.id, id));
    return row;
  }

  /** Of `ids`, those that have settled (completed, dead or canceled). */
  async settledAmong(ids: string[]): Promise<string[]> {
    const rows = await this.db.select({ id: generations.id }).from(generations)
      .where(and(inArray(generations.id, ids), inArray(generations.status, ['completed', 'dead', 'canceled'])));
    return rows.map((r) => r.id);
  }

  /** In-flight rows created before `before`, oldest first: what the reconciler holds against BullMQ. */
  inFlightBefore(before: Date, limit: number): Promise<GenerationRow[]> {
    return this.db.select().from(generations)
      .where(and(inArray(generations.status, [...IN_FLIGHT]), lt(generations.createdAt, before)))
      .orderBy(asc(generations.createdAt)).limit(limit);
  }

  /** Ids of a batch's own generations still `queued`, after `after` in id order: what its cancel removes. */
  async queuedOfBatch(batchId: string, after: string, limit: number): Promise<string[]> {
    const rows = await this.db.select({ id: generations.id }).from(generations)
      .where(and(eq(generations.batchId, batchId), eq(generations.status, 'queued'), gt(generations.id, after))).orderBy(generations.id).limit(limit);
    return rows.map((r) => r.id);
  }

  /** The generation `id` in `scope`; 404 `job_not_found` when absent or another project's. */
  async get(id: string, scope: Scope): Promise<GenerationRow> {
    const [row] = await this.db.select().from(generations).where(and(eq(generations.id, id), inScope(generations.projectId, scope)));
    if (!row) throw new AppError('job_not_found', `No job ${id}.`);
    return row;
  }

  /** The jobs of `ids` that exist, in the order asked for, in one query. */
  async many(ids: string[], scope: Scope): Promise<GenerationRow[]> {
    const rows = await this.db.select().from(generations).where(and(inArray(generations.id, ids), inScope(generations.projectId, scope)));
    const byId = new Map(rows.map((r) => [r.id, r]));
    return [...new Set(ids)].flatMap((id) => byId.get(id) ?? []);
  }

  /** Newest first, keyset-paginated on (createdAt, id). */
  async list(q: ListJobsQuery, scope: Scope): Promise<{ rows: GenerationRow[]; nextCursor: string | null }> {
    const limit = q.limit ?? 20;
    const where: (SQL | undefined)[] = [inScope(generations.projectId, scope)];
    if (q.status) where.push(eq(generations.status, q.status));
    if (q.templateId) where.push(eq(generations.templateId, q.templateId));
    if (q.apiKeyId) where.push(eq(generations.apiKeyId, q.apiKeyId));
    if (q.endUser) where.push(eq(generations.endUser, q.endUser));
    if (q.since) {
      const since = new Date(q.since);
      if (!inDateSpan(since)) throw new AppError('bad_request', 'since is outside the dates this API keeps.');
      where.push(gte(generations.createdAt, since));
    }
    if (q.cursor) where.push(afterCursor(generations.createdAt, generations.id, q.cursor, 'gen'));
    const rows = await this.db
      .select()
      .from(generations)
      .where(and(...where))
      .orderBy(desc(generations.createdAt), desc(generations.id))
      .limit(limit + 1);
    return pageOf(rows, limit);
  }
}
