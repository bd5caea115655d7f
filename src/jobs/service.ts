import { and, desc, eq, gte, inArray, lt, or, type SQL } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { generations, type GenerationRow, type JobStatus } from '../db/schema.js';
import { AppError } from '../errors/app-error.js';
import { inDateSpan } from '../http/dates.js';
import type { Scope } from '../auth/caller.js';
import { inScope } from '../db/scope.js';

export interface ListJobsQuery {
  status?: JobStatus;
  templateId?: string;
  apiKeyId?: string;
  /** ISO instant: jobs created at or after it. */
  since?: string;
  /** @defaultValue 20 */
  limit?: number;
  cursor?: string;
}

/** Cursors are opaque to clients: base64url of `createdAt|id` of the last row of a page. */
const encodeCursor = (row: GenerationRow) => Buffer.from(`${row.createdAt.toISOString()}|${row.id}`).toString('base64url');

const CURSOR = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z)\|(gen_[A-Za-z0-9_-]{1,64})$/;

/** Accepts only what encodeCursor writes: an instant in the date span that prints back as given, and a job id. */
function decodeCursor(cursor: string): { at: Date; id: string } {
  const m = CURSOR.exec(Buffer.from(cursor, 'base64url').toString());
  const at = new Date(m?.[1] ?? NaN);
  if (!m || !inDateSpan(at) || at.toISOString() !== m[1]) {
    throw new AppError('bad_request', 'invalid cursor: pass a nextCursor back exactly as it was given.', {
      issues: [{ path: 'querystring/cursor', message: 'is not a cursor this API gave' }],
    });
  }
  return { at, id: m[2]! };
}

/** Reads generations: the lasting record of every job. */
export class Jobs {
  constructor(private readonly db: Db) {}

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
    if (q.since) {
      const since = new Date(q.since);
      if (!inDateSpan(since)) throw new AppError('bad_request', 'since is outside the dates this API keeps.');
      where.push(gte(generations.createdAt, since));
    }
    if (q.cursor) {
      const c = decodeCursor(q.cursor);
      where.push(or(lt(generations.createdAt, c.at), and(eq(generations.createdAt, c.at), lt(generations.id, c.id)))!);
    }
    const rows = await this.db
      .select()
      .from(generations)
      .where(and(...where))
      .orderBy(desc(generations.createdAt), desc(generations.id))
      .limit(limit + 1);
    const page = rows.slice(0, limit);
    return { rows: page, nextCursor: rows.length > limit ? encodeCursor(page[page.length - 1]!) : null };
  }
}
