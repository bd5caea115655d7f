import { and, eq, sql } from 'drizzle-orm';
import { rowsOf, type Db } from '../db/client.js';
import { generations, IN_FLIGHT_SQL, type GenerationRow } from '../db/schema.js';
import { AppError } from '../errors/app-error.js';
import type { JobEventLog } from '../events/job-events.js';
import type { GenerationJobData, Queues } from './queues.js';

/** The job data of a generation, rebuilt from its row (the record), for replays and the sweeper. */
export function jobDataOf(row: GenerationRow): GenerationJobData {
  return {
    id: row.id,
    inputHash: row.inputHash,
    templateId: row.templateId,
    provider: row.provider,
    model: row.model,
    system: row.system,
    prompt: row.prompt,
    maxTokens: row.maxTokens,
    temperature: row.temperature,
    outputSchema: row.outputSchema ?? null,
    cacheTtlSeconds: row.cacheTtlSeconds,
    apiKeyId: row.apiKeyId,
    ...(row.requestId ? { requestId: row.requestId } : {}),
  };
}

const isUniqueViolation = (err: unknown) => {
  const e = err as { code?: string; cause?: { code?: string } };
  return e.code === '23505' || e.cause?.code === '23505';
};

/** Dead-lettered generations: Postgres status `dead` plus a job in the dead-letter queue. */
export class DeadLetters {
  constructor(private readonly db: Db, private readonly queues: Queues, private readonly events?: JobEventLog) {}

  /** Puts a dead job back in the generation queue with a fresh set of attempts. */
  async replay(id: string): Promise<{ jobId: string; status: 'queued' }> {
    let row: GenerationRow | undefined;
    try {
      [row] = await this.db
        .update(generations)
        .set({ status: 'queued', errorCode: null, errorMessage: null, completedAt: null })
        .where(and(eq(generations.id, id), eq(generations.status, 'dead')))
        .returning();
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
      const res = await this.db.execute(sql`
        select twin.id from generations dead join generations twin on twin.input_hash = dead.input_hash
        where dead.id = ${id} and twin.status in ${IN_FLIGHT_SQL}`);
      const [twin] = rowsOf<{ id: string }>(res);
      throw new AppError('replay_conflict', 'An identical generation is already in flight; wait for it instead.', twin ? { jobId: twin.id } : undefined);
    }
    if (!row) throw new AppError('dead_letter_not_found', `No dead-lettered job ${id}.`);
    // The finished BullMQ job keeps the id; remove it so the id can be queued again.
    await this.queues.generation.remove(id);
    await this.events?.publish(id, 'queued', { replay: true });
    await this.queues.generation.add('generate', jobDataOf(row), this.queues.jobOptions(id));
    await this.queues.deadLetter.remove(id);
    return { jobId: id, status: 'queued' };
  }

}
