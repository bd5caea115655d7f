import type { Queue } from 'bullmq';
import type { RedisClient } from '../redis/client.js';
import type { Logger } from 'pino';
import type { Caller } from '../auth/caller.js';
import type { Config } from '../config/index.js';
import { PRIORITIES, type Priority } from '../db/schema.js';
import { defineScripts } from '../redis/scripts.js';
import type { FairSlot, GenerationJobData } from './queues.js';
import { redisKeys } from '../redis/keys.js';

/**
 * Width of each class's band of BullMQ priorities: high takes 1 .. 2^19, normal the next
 * 2^19, low the next; 3 · 2^19 + 1 stays under BullMQ's maximum priority, 2^21.
 */
export const BAND = 2 ** 19;

const classIndex = (cls: Priority) => PRIORITIES.indexOf(cls);

/** The BullMQ priority of `offset` in `cls` (lower runs first; every class is strictly ahead of the next). */
export const bullPriority = (cls: Priority, offset: number) => 1 + classIndex(cls) * BAND + Math.min(Math.max(offset, 0), BAND - 1);

/** The class a BullMQ priority falls in. */
export const classOf = (priority: number): Priority => PRIORITIES[Math.min(Math.floor((priority - 1) / BAND), PRIORITIES.length - 1)]!;

/** The last slot of a class: for jobs queued without a virtual time (the reconciler, replays), behind the fair ones. */
/** The queue class of a request: the one it asks for, else its key's, else its tier's (PRIORITY_<TIER>). */
export const queueClass = (config: Pick<Config, 'PRIORITY_FREE' | 'PRIORITY_PRO' | 'PRIORITY_ENTERPRISE'>, caller: Pick<Caller, 'tier' | 'priority'>, asked?: Priority): Priority =>
  asked ?? caller.priority ?? config[`PRIORITY_${caller.tier.toUpperCase() as 'FREE' | 'PRO' | 'ENTERPRISE'}`];

export const tailPriority = (cls: Priority) => bullPriority(cls, BAND - 1);

interface FairCommands {
  fairAdmit(key: string, apiKeyId: string, band: number, count?: number): Promise<[number, number]>;
  fairStart(key: string, vt: number, band: number): Promise<[number, number, number]>;
}

/**
 * Start-time fair queuing on BullMQ's own priority order. Each class has a virtual
 * clock in RedisClient, and each API key a clock per class; a job's virtual start time is
 * max(key clock, class clock), after which the key's clock moves one past it, and the
 * class clock advances to the start time of each job that starts. A job's BullMQ
 * priority is its class base plus that time (relative to the class epoch), so BullMQ's
 * one sorted set, from which every worker takes the lowest score atomically, serves
 * the keys of a class round-robin. Both steps are Lua scripts (fairAdmit-1.lua,
 * fairStart-1.lua): one RedisClient, any number of API processes and workers.
 */
export class Fairness {
  readonly #redis: RedisClient & FairCommands;

  constructor(redis: RedisClient, private readonly prefix: string, private readonly log: Logger) {
    this.#redis = defineScripts(redis) as RedisClient & FairCommands;
  }

  #key(cls: Priority) {
    return redisKeys(this.prefix).fair(cls);
  }

  /** A new job of `apiKeyId` in `cls`: its slot and BullMQ priority. */
  async admit(apiKeyId: string, cls: Priority): Promise<{ fair: FairSlot; priority: number }> {
    const [vt, offset] = await this.#redis.fairAdmit(this.#key(cls), apiKeyId, BAND);
    return { fair: { cls, vt: Number(vt) }, priority: bullPriority(cls, Number(offset)) };
  }

  /** `count` new jobs of `apiKeyId` in `cls` (a batch's), in one script: consecutive slots, as if admitted one by one. */
  async admitMany(apiKeyId: string, cls: Priority, count: number): Promise<{ fair: FairSlot; priority: number }[]> {
    if (count === 0) return [];
    const [vt, offset] = await this.#redis.fairAdmit(this.#key(cls), apiKeyId, BAND, count);
    return Array.from({ length: count }, (_, i) => ({ fair: { cls, vt: Number(vt) + i }, priority: bullPriority(cls, Number(offset) + i) }));
  }

  /**
   * A job starts: its class clock advances. When that moved the class's epoch, the class's
   * waiting jobs are re-prioritised against it (in the background; rare: once per half band
   * of virtual time, 262,144 rounds).
   */
  async started(fair: FairSlot | undefined, queue: Queue<GenerationJobData>): Promise<void> {
    if (!fair) return;
    const [, shifted, epoch] = await this.#redis.fairStart(this.#key(fair.cls), fair.vt, BAND);
    if (Number(shifted) === 1) {
      void this.renormalise(fair.cls, Number(epoch), queue).catch((err) => this.log.warn({ err: String(err), cls: fair.cls }, 'fair-queue renormalisation failed'));
    }
  }

  /**
   * Sets every waiting job of `cls` to its priority against `epoch`: the jobs' scores
   * in BullMQ's prioritized set are read by class band, each recomputed from its virtual
   * time (kept in its data) and changed with Job.changePriority.
   */
  async renormalise(cls: Priority, epoch: number, queue: Queue<GenerationJobData>): Promise<number> {
    const lo = bullPriority(cls, 0) * 2 ** 32;
    const hi = (bullPriority(cls, BAND - 1) + 1) * 2 ** 32;
    const ids = await this.#redis.zrangebyscore(queue.keys.prioritized!, lo, `(${hi}`);
    let changed = 0;
    for (const id of ids) {
      const job = await queue.getJob(id);
      const vt = job?.data.fair?.cls === cls ? job.data.fair.vt : undefined;
      if (!job || vt === undefined) continue;
      const priority = bullPriority(cls, vt - epoch);
      if (priority !== job.priority) {
        await job.changePriority({ priority });
        changed++;
      }
    }
    this.log.info({ cls, epoch, changed }, 'fair queue: class epoch moved, waiting jobs re-prioritised');
    return changed;
  }
}
