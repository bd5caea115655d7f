import { Watchdog, type Waiting } from './watchdog.js';

/**
 * Judges one Redis connection by Redis, for every check that must fail fast on a hung Redis
 * (the request limiter, the token limiter, failed key lookups): one Watchdog, whose clock of
 * Redis's last reply every answered call on the connection moves. A call fails only when Redis
 * itself stayed silent for `timeoutMs` after it was written, never because the API's own event
 * loop or the machine's cores were busy.
 */
export class RedisWatch {
  readonly dog: Watchdog<Waiting>;

  /** @param timeoutMs - RATE_LIMIT_TIMEOUT_MS */
  constructor(readonly timeoutMs: number) {
    this.dog = new Watchdog<Waiting>(timeoutMs);
  }

  /** Redis answered something on this connection just now. */
  heard(): void {
    this.dog.lastReplyAt = performance.now();
  }

  /**
   * Sends one command (`send` issues it on the watched connection) and settles as it does, or
   * rejects once Redis has left it unanswered as the Watchdog judges. Its clock starts on the
   * next tick, after ioredis has written it (auto-pipelined commands are written on the tick).
   */
  call<T>(send: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const call: Waiting = {
        sentAt: 0, settled: false, next: undefined,
        expire: () => reject(new Error(`Redis did not answer within ${this.timeoutMs} ms`)),
      };
      send().then(
        (value) => {
          if (!this.dog.settle(call)) return;
          this.heard();
          resolve(value);
        },
        (err: unknown) => {
          if (this.dog.settle(call)) reject(err);
        },
      );
      process.nextTick(() => {
        if (!call.settled) this.dog.watch(call, performance.now());
      });
    });
  }
}
