import type { Callback, Result } from 'ioredis';
import type { RedisClient } from '../redis/client.js';
import { TurnBatch } from '../redis/turn-batch.js';

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
 * The sliding-window checks of one event-loop turn, sent as one EVALSHA of
 * `slidingWindow-n.lua` (TurnBatch); `sent` is where the store starts each
 * check's clock: at the write, not when it was queued.
 */
export function windowChecks<T extends Check>(redis: RedisClient, settle: Settle<T>, sent: Sent<T>): TurnBatch<T> {
  return new TurnBatch<T>(redis, (checks) => {
    const keys = new Array<string>(checks.length);
    const argv = new Array<number>(checks.length * 3);
    for (let i = 0; i < checks.length; i++) {
      const c = checks[i]!;
      keys[i] = c.key;
      argv[3 * i] = c.windowMs;
      argv[3 * i + 1] = c.limit;
      argv[3 * i + 2] = c.record;
    }
    redis.slidingWindow(keys.length, keys, argv, (err, reply) => {
      for (let i = 0; i < checks.length; i++) settle(checks[i]!, err ?? null, reply, 3 * i);
    });
    sent(checks);
  });
}
