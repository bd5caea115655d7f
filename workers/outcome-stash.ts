import type { RedisClient } from '../src/redis/client.js';
import type { Logger } from 'pino';
import type { Completion } from '../src/jobs/ledger.js';
import { redisKeys } from '../src/redis/keys.js';

/** A provider's answer that passed every check, as the completion write needs it. */
export type Outcome = Omit<Completion, 'id'>;

/**
 * Paid answers whose Postgres write failed (`<prefix>:outcome:<jobId>`, kept 7
 * days like failed BullMQ jobs): a later attempt, or the run the reconciler
 * starts once Postgres is back, writes the answer instead of paying for it
 * again. Only runs after a first attempt look here, so the common path costs
 * no round trip. JSON keeps NUL and unpaired surrogates as escapes: lossless.
 */
export class OutcomeStash {
  constructor(private readonly redis: RedisClient, private readonly prefix: string, private readonly log: Logger) {}

  key(jobId: string): string {
    return redisKeys(this.prefix).outcome(jobId);
  }

  /** Keeps an answer; never throws (a lost stash costs a second call, never a result). */
  async save(jobId: string, o: Outcome): Promise<void> {
    try {
      await this.redis.set(this.key(jobId), JSON.stringify(o), 'EX', 7 * 86_400);
    } catch (err) {
      this.log.error({ err: String(err), jobId }, 'answer not stashed: a later attempt pays for it again');
    }
  }

  /** The stashed answer of a job, if any (undefined when Redis cannot say). */
  async get(jobId: string): Promise<Outcome | undefined> {
    const raw = await this.redis.get(this.key(jobId)).catch(() => null);
    // An answer stashed before finish reasons were kept ended normally.
    return raw ? { finishReason: 'stop', ...(JSON.parse(raw) as Omit<Outcome, 'finishReason'>) } : undefined;
  }

  async has(jobId: string): Promise<boolean> {
    return (await this.redis.exists(this.key(jobId))) === 1;
  }

  drop(jobId: string): Promise<unknown> {
    return this.redis.del(this.key(jobId)).catch(() => 0);
  }
}
