import { sql } from 'drizzle-orm';
import { rowsOf, type Db } from '../db/client.js';
import type { BatchRow } from '../db/schema.js';

/** Items of a batch by the status of the generation answering each. */
export interface BatchCounts {
  queued: number;
  active: number;
  failed: number;
  completed: number;
  dead: number;
  canceled: number;
}

/** A batch as the API shows it (`GET /v1/batches/:id`, and the body of its `batch.completed` webhook). */
export function toBatchDto(row: BatchRow, counts: BatchCounts) {
  const settled = counts.completed + counts.dead + counts.canceled;
  return {
    id: row.id,
    object: 'batch' as const,
    status: row.status,
    templateId: row.templateId,
    priority: row.priority,
    total: row.total,
    counts: { ...counts, cached: row.cachedCount },
    progress: { settled, total: row.total, percent: row.total ? Math.floor((settled / row.total) * 100) : 100 },
    webhook: row.webhookUrl ? { url: row.webhookUrl, events: row.webhookEvents ?? [] } : null,
    createdAt: row.createdAt.toISOString(),
    canceledAt: row.canceledAt?.toISOString() ?? null,
    completedAt: row.completedAt?.toISOString() ?? null,
  };
}

export type BatchDto = ReturnType<typeof toBatchDto>;

/** Counts of a batch's items by status, in one aggregate over its items (index batch_items pkey, generations pkey). */
export async function batchCounts(db: Db, batchId: string): Promise<BatchCounts> {
  return (await batchCountsOf(db, [batchId])).get(batchId)!;
}

/** `batchCounts` of many batches (a page of `GET /v1/batches`) in one aggregate. */
export async function batchCountsOf(db: Db, batchIds: string[]): Promise<Map<string, BatchCounts>> {
  const out = new Map(batchIds.map((id): [string, BatchCounts] => [id, { queued: 0, active: 0, failed: 0, completed: 0, dead: 0, canceled: 0 }]));
  if (!batchIds.length) return out;
  const res = await db.execute(sql`
    select i.batch_id, g.status, count(*)::int as n from batch_items i join generations g on g.id = i.generation_id
    where i.batch_id = any(${sql.param(batchIds)}::text[]) group by i.batch_id, g.status`);
  for (const r of rowsOf<{ batch_id: string; status: keyof BatchCounts; n: number }>(res)) {
    const counts = out.get(r.batch_id);
    if (counts && r.status in counts) counts[r.status] = r.n;
  }
  return out;
}
