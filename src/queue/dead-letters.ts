import type { Scope } from '../auth/caller.js';
import type { GenerationRow } from '../db/schema.js';
import { AppError } from '../errors/app-error.js';
import type { JobEventLog } from '../events/job-events.js';
import type { Ledger } from '../jobs/ledger.js';
import { messagesOf } from '../llm/stored.js';
import { tailPriority } from './fairness.js';
import { forQueue, type GenerationJobData, type Queues } from './queues.js';

/** The job data of a generation, rebuilt from its row (the record), for replays and the sweeper; large messages stay in the row (`forQueue`). */
export function jobDataOf(row: GenerationRow): GenerationJobData {
  return forQueue({
    id: row.id,
    inputHash: row.inputHash,
    templateId: row.templateId,
    provider: row.provider,
    model: row.model,
    system: row.system,
    messages: messagesOf(row),
    maxTokens: row.maxTokens,
    temperature: row.temperature,
    ...(row.topP !== null ? { topP: row.topP } : {}),
    ...(row.stop ? { stop: row.stop } : {}),
    outputSchema: row.outputSchema ?? null,
    ...(row.requestOptions ? { options: row.requestOptions } : {}),
    cacheTtlSeconds: row.cacheTtlSeconds,
    apiKeyId: row.apiKeyId,
    projectId: row.projectId,
    ...(row.requestId ? { requestId: row.requestId } : {}),
    ...(row.traceparent ? { trace: { traceparent: row.traceparent } } : {}),
  });
}

/** Dead-lettered generations: Postgres status `dead` plus a job in the dead-letter queue. */
export class DeadLetters {
  constructor(private readonly ledger: Ledger, private readonly queues: Queues, private readonly events?: JobEventLog) {}

  /** Puts a dead job of `scope` back in the generation queue with a fresh set of attempts (404 `dead_letter_not_found` for another project's). */
  async replay(id: string, scope: Scope): Promise<{ jobId: string; status: 'queued'; projectId: string }> {
    const res = await this.ledger.requeue(id, scope);
    if (!res) throw new AppError('dead_letter_not_found', `No dead-lettered job ${id}.`);
    if ('inFlight' in res) throw new AppError('replay_conflict', 'An identical generation is already in flight; wait for it instead.', { jobId: res.inFlight });
    // The finished BullMQ job keeps the id; remove it so the id can be queued again. The row is dead
    // a moment before the worker lets go of the job (its lock, until it moved it to failed), and
    // BullMQ refuses to remove a locked job and ignores an add under an existing id: wait for it.
    await this.#removeFinished(id);
    await this.events?.publish(id, 'queued', { replay: true });
    await this.queues.generation.add('generate', jobDataOf(res.row), this.queues.jobOptions(id, tailPriority(res.row.priority)));
    await this.queues.deadLetter.remove(id);
    return { jobId: id, status: 'queued', projectId: res.row.projectId };
  }

  async #removeFinished(id: string): Promise<void> {
    const deadline = Date.now() + 10_000;
    while ((await this.queues.generation.remove(id)) === 0 && (await this.queues.generation.getJob(id)) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
