import { and, isNull, sql } from 'drizzle-orm';
import { Batcher } from '../db/batcher.js';
import { rowsOf, type Db } from '../db/client.js';
import { batches, type BatchRow } from '../db/schema.js';
import type { Webhooks } from '../webhooks/service.js';
import { batchCounts, toBatchDto } from './view.js';

/**
 * A batch's progress as its generations settle (an after-settle listener): the items a generation
 * answers marked settled, and a batch left with no unsettled item completed, with its
 * `batch.completed` message. One statement for all the generations that settle meanwhile.
 */
export class BatchProgress {
  constructor(private readonly db: Db, private readonly webhooks: Pick<Webhooks, 'enqueue'>) {}

  /** Generation `id` settled: its batches move on. Safe to call again for the same settlement. */
  async ended(generationId: string): Promise<void> {
    const ids = await this.#items.push(generationId);
    if (ids.length) await this.#complete(ids);
  }

  readonly #items = new Batcher<string, string[]>(async (ids) => {
    const res = await this.db.execute(sql`
      update batch_items i set settled = true from generations g
      where g.id = any(${sql.param(ids)}::text[]) and g.status in ('completed', 'dead', 'canceled') and i.generation_id = g.id and not i.settled
      returning i.generation_id, i.batch_id`);
    const byGeneration = new Map<string, Set<string>>();
    for (const r of rowsOf<{ generation_id: string; batch_id: string }>(res)) {
      const set = byGeneration.get(r.generation_id) ?? new Set<string>();
      byGeneration.set(r.generation_id, set.add(r.batch_id));
    }
    return ids.map((id) => [...(byGeneration.get(id) ?? [])]);
  });

  /** Items of batch `batchId` whose generations have settled, marked so (after admission and cancel), and the batch completed if none is left. */
  async settleBatch(batchId: string): Promise<void> {
    await this.db.execute(sql`
      update batch_items i set settled = true from generations g
      where i.batch_id = ${batchId} and not i.settled and g.id = i.generation_id and g.status in ('completed', 'dead', 'canceled')`);
    await this.#complete([batchId]);
  }

  /**
   * Completes the batches that have no unsettled item left, once each (the `completed_at is null`
   * guard). Run as its own statement after the items' update committed: of two last items settling
   * at once, the later check sees both, so a batch is never left incomplete; and no completion
   * waits on a lock of the batch row before its last item.
   */
  async #complete(ids: string[]): Promise<void> {
    const done = await this.db.update(batches)
      .set({ completedAt: sql`now()`, status: sql`case when ${batches.status} = 'in_progress' then 'completed' else ${batches.status} end` })
      .where(and(sql`${batches.id} = any(${sql.param(ids)}::text[])`, isNull(batches.completedAt),
        sql`not exists (select 1 from batch_items u where u.batch_id = ${batches.id} and not u.settled)`))
      .returning();
    await Promise.all(done.map((b) => this.#completed(b)));
  }

  async #completed(b: BatchRow): Promise<void> {
    if (!b.webhookUrl || !(b.webhookEvents ?? []).includes('batch.completed')) return;
    const body = JSON.stringify(toBatchDto(b, await batchCounts(this.db, b.id)));
    await this.webhooks.enqueue({ messageId: `msg_batch_${b.id}`, event: 'batch.completed', apiKeyId: b.apiKeyId, url: b.webhookUrl, batchId: b.id, body });
  }
}
