import type { Callback, Result } from 'ioredis';
import type { RedisClient } from '../redis/client.js';
import { defineScripts } from '../redis/scripts.js';
import { TurnBatch } from '../redis/turn-batch.js';
import type { RedisWatch } from './redis-watch.js';

declare module 'ioredis' {
  interface RedisCommander<Context> {
    /**
     * `src/ratelimit/tokenWindow-n.lua`: `[status, total, retryMs, retryAtMs]` per operation; keys: the times
     * and the tokens of a window per operation; argv: `op, windowMs, id, tokens, limit` per operation.
     */
    tokenWindow(numKeys: number, keys: string[], argv: Array<string | number>, callback?: Callback<number[]>): Result<number[], Context>;
  }
}

export type TokenWindowOp = 'reserve' | 'reconcile' | 'settle' | 'release';

/** One operation waiting for its turn's script call. */
interface Pending {
  key: string;
  tokensKey: string;
  argv: [TokenWindowOp, number, string, number, number];
  resolve: (reply: number[]) => void;
  reject: (err: unknown) => void;
}

/**
 * Operations on token-weighted sliding windows (`tokenWindow-n.lua`): those of one event-loop turn
 * go as one script call (TurnBatch), in order. With a `watch`, a call fails as the watch judges
 * Redis's silence, never because this process was busy.
 */
export class TokenWindows {
  readonly #batch: TurnBatch<Pending>;

  constructor(redis: RedisClient, watch?: RedisWatch) {
    defineScripts(redis);
    this.#batch = new TurnBatch<Pending>(redis, (ops) => {
      const keys = new Array<string>(2 * ops.length);
      const argv: Array<string | number> = [];
      ops.forEach((op, i) => {
        keys[2 * i] = op.key;
        keys[2 * i + 1] = op.tokensKey;
        argv.push(...op.argv);
      });
      const send = () => redis.tokenWindow(keys.length, keys, argv);
      (watch ? watch.call(send) : send()).then(
        (reply) => ops.forEach((op, i) => op.resolve(reply.slice(4 * i, 4 * i + 4))),
        (err: unknown) => ops.forEach((op) => op.reject(err)),
      );
    });
  }

  /** `[status, total, retryMs, retryAtMs]` of one operation on the window kept in `keys` (times, tokens). */
  run(keys: readonly [string, string], op: TokenWindowOp, windowMs: number, id: string, tokens: number, limit: number): Promise<number[]> {
    return new Promise((resolve, reject) => this.#batch.add({ key: keys[0], tokensKey: keys[1], argv: [op, windowMs, id, tokens, limit], resolve, reject }));
  }
}
