import type { RedisClient } from '../redis/client.js';
import type { Logger } from 'pino';
import type { Scope } from '../auth/caller.js';
import type { GenerationRow } from '../db/schema.js';
import { announceCancel } from '../queue/cancels.js';
import type { Queues } from '../queue/queues.js';
import type { TokenLimiter } from '../ratelimit/tokens.js';
import type { AfterSettle } from './after-settle.js';
import type { Ledger } from './ledger.js';
import type { Jobs } from './service.js';

/** What `POST /v1/jobs/:id/cancel` did: see `Ledger.cancel`. */
export type CancelOutcome = 'detached' | 'canceled' | 'aborting' | 'settled';

export interface CancelDeps {
  ledger: Ledger;
  queues: Pick<Queues, 'generation'>;
  redis: RedisClient;
  prefix: string;
  log: Logger;
  tokens?: Pick<TokenLimiter, 'reconcile'>;
  /** Its final event, webhooks and batch progress. */
  afterSettle: Pick<AfterSettle, 'settled'>;
}

/**
 * The rest of a cancel once the row settled `canceled` with no attempt holding it: its
 * BullMQ job removed (waiting or delayed for a retry; a job a worker took meanwhile finds
 * the row settled at its claim), its token hold brought down to what its attempts used,
 * and what follows a settlement (its event, webhooks and batch progress) done.
 */
export async function afterCanceled(deps: CancelDeps, row: Pick<GenerationRow, 'id' | 'apiKeyId' | 'inputTokens' | 'outputTokens'>): Promise<void> {
  const job = await deps.queues.generation.getJob(row.id).catch(() => undefined);
  if (job?.data.tpm) await deps.tokens?.reconcile(row.apiKeyId, job.data.tpm, row.inputTokens + row.outputTokens).catch(() => false);
  await job?.remove().catch((err: unknown) => deps.log.debug({ err: String(err), jobId: row.id }, 'canceled job not removed from BullMQ'));
  await deps.afterSettle.settled({ id: row.id, status: 'canceled' });
}

/** Cancels and detaches callers from generations (`POST /v1/jobs/:id/cancel`). */
export class JobCancels {
  constructor(private readonly deps: CancelDeps & { jobs: Jobs }) {}

  async cancel(id: string, scope: Scope): Promise<{ outcome: CancelOutcome; row: GenerationRow }> {
    await this.deps.jobs.get(id, scope); // 404 first, and for another project's job
    const outcome = await this.deps.ledger.cancel(id);
    if (outcome === 'aborting') await announceCancel(this.deps.redis, this.deps.prefix, id);
    const row = await this.deps.jobs.get(id, scope);
    if (outcome === 'canceled') await afterCanceled(this.deps, row);
    return { outcome, row };
  }
}
