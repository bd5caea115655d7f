import calculateSlot from 'cluster-key-slot';
import { Cluster, type Callback, type Result } from 'ioredis';
import type { RedisClient } from '../redis/client.js';

declare module 'ioredis' {
  interface RedisCommander<Context> {
    /**
     * `src/ratelimit/slidingWindow-n.lua`: `[count, resetMs, admitted]` per
     * check; `argv` holds `windowMs, limit, record` per key.
     */
    slidingWindow(numKeys: number, keys: string[], argv: number[], callback?: Callback<number[]>): Result<number[], Context>;
  }
}

/** One check as the script takes it. */
export interface Check {
  key: string;
  windowMs: number;
  limit: number;
  record: 0 | 1;
}

/** Called once per check with its slice of the reply: `reply[at]` is its count. */
export type Settle<T> = (check: T, err: Error | null, reply: number[] | undefined, at: number) => void;

/** Called once per script run, right after it was handed to the connection, with its checks in order. */
export type Sent<T> = (checks: readonly T[]) => void;

/**
 * Sends the checks of one event-loop turn to Redis as one EVALSHA of
 * `slidingWindow-n.lua`, in the check phase, after the poll phase has read
 * every request that was waiting. Redis runs the script's fixed part (about
 * 23k instructions for EVALSHA, 7k for `TIME`) once per turn instead of once
 * per request, and ioredis builds one command instead of many.
 *
 * The client should list `slidingWindow` in `autoPipeliningIgnoredCommands`
 * (`createRedis` does): auto-pipelining would hold the call back one more turn.
 */
export class TurnBatch<T extends Check> {
  private checks: T[] = [];
  private scheduled = false;

  /**
   * @param sent - where the store starts each check's clock: at the write, not when it was queued.
   * @param maxChecks - checks per script run at most, so that one run never holds Redis for long.
   */
  constructor(
    private readonly redis: RedisClient,
    private readonly settle: Settle<T>,
    private readonly sent: Sent<T>,
    private readonly maxChecks = 128,
  ) {}

  add(check: T): void {
    this.checks.push(check);
    if (this.checks.length >= this.maxChecks) this.send();
    else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.onImmediate);
    }
  }

  private readonly onImmediate = () => {
    this.scheduled = false;
    this.send();
  };

  private send(): void {
    const checks = this.checks;
    if (checks.length === 0) return;
    this.checks = [];
    if (!(this.redis instanceof Cluster)) {
      this.run(checks);
      return;
    }
    // On a cluster one run per slot: a script's keys must share one (a key's checks stay in order).
    const bySlot = new Map<number, T[]>();
    for (const c of checks) {
      const slot = calculateSlot(c.key);
      const group = bySlot.get(slot);
      if (group) group.push(c);
      else bySlot.set(slot, [c]);
    }
    for (const group of bySlot.values()) this.run(group);
  }

  private run(checks: T[]): void {
    const keys = new Array<string>(checks.length);
    const argv = new Array<number>(checks.length * 3);
    for (let i = 0; i < checks.length; i++) {
      const c = checks[i]!;
      keys[i] = c.key;
      argv[3 * i] = c.windowMs;
      argv[3 * i + 1] = c.limit;
      argv[3 * i + 2] = c.record;
    }
    this.redis.slidingWindow(keys.length, keys, argv, (err, reply) => {
      for (let i = 0; i < checks.length; i++) this.settle(checks[i]!, err ?? null, reply, 3 * i);
    });
    this.sent(checks);
  }
}
