import type { RedisClient } from '../redis/client.js';
import type { Logger } from 'pino';
import type { Caller, Tier } from '../auth/caller.js';
import type { Config } from '../config/index.js';
import { AppError } from '../errors/app-error.js';
import { RedisWatch } from './redis-watch.js';
import { TokenWindows, type TokenWindowOp } from './token-windows.js';
import { redisKeys, type RedisKeys } from '../redis/keys.js';

/** Tokens per window for each API key tier. */
export type TokenLimits = Record<Tier, number>;

export function tokenLimits(config: Pick<Config, 'RATE_LIMIT_TPM_FREE' | 'RATE_LIMIT_TPM_PRO' | 'RATE_LIMIT_TPM_ENTERPRISE'>): TokenLimits {
  return { free: config.RATE_LIMIT_TPM_FREE, pro: config.RATE_LIMIT_TPM_PRO, enterprise: config.RATE_LIMIT_TPM_ENTERPRISE };
}

/** Tokens held in a key's window for one generation: carried by its job, so the worker can reconcile them. */
export interface TokenHold {
  /** Reservation id, unique per generation. */
  id: string;
  /** The estimate reserved (the worst case). */
  tokens: number;
}

export interface TokenLimiterOptions {
  /** A command connection; the limiter defines `tokenWindow` on it. */
  redis: RedisClient;
  config: Pick<Config, 'REDIS_PREFIX' | 'RATE_LIMIT_WINDOW_MS' | 'RATE_LIMIT_TIMEOUT_MS' | 'RATE_LIMIT_FAIL_OPEN'
    | 'RATE_LIMIT_TPM_FREE' | 'RATE_LIMIT_TPM_PRO' | 'RATE_LIMIT_TPM_ENTERPRISE'>;
  log: Logger;
  /** The connection's watch, shared with the request limiter. @defaultValue one of its own, at RATE_LIMIT_TIMEOUT_MS */
  watch?: RedisWatch;
}

/**
 * Tokens per window per API key (`tokenWindow-n.lua`), exact across
 * processes: `reserve` holds a generation's worst case at admission, the
 * worker `reconcile`s it to the tokens really used, and a request that was
 * not admitted (joined an in-flight generation, found a fresh result)
 * `release`s it. The operations of one event-loop turn share one EVALSHA, bounded by
 * RATE_LIMIT_TIMEOUT_MS.
 */
export class TokenLimiter {
  readonly #limits: TokenLimits;
  readonly #keys: RedisKeys['tokens'];
  readonly #windows: TokenWindows;
  #down = false;

  constructor(private readonly opts: TokenLimiterOptions) {
    // Judged by Redis's silence, not a plain timer: a busy event loop or busy cores are no outage.
    this.#windows = new TokenWindows(opts.redis, opts.watch ?? new RedisWatch(opts.config.RATE_LIMIT_TIMEOUT_MS));
    this.#limits = tokenLimits(opts.config);
    this.#keys = redisKeys(opts.config.REDIS_PREFIX).tokens;
  }

  /**
   * Holds `tokens` for reservation `id` in the caller's window. Resolves to the
   * hold, or undefined when nothing is held: the admin key (not token-limited),
   * or Redis unreachable under RATE_LIMIT_FAIL_OPEN. Throws 429 `rate_limited`
   * (`details.dimension: "tokens"`, with `retry-after`) when the window cannot
   * take them, 503 `rate_limiter_unavailable` when Redis cannot be reached.
   */
  async reserve(caller: Caller, id: string, tokens: number): Promise<TokenHold | undefined> {
    if (caller.admin) return undefined;
    const limit = this.#limits[caller.tier];
    let reply: number[];
    try {
      reply = await this.#run(caller.keyId, 'reserve', id, tokens, limit);
    } catch (err) {
      if (this.opts.config.RATE_LIMIT_FAIL_OPEN) return undefined;
      const e = new AppError('rate_limiter_unavailable');
      e.cause = err;
      throw e;
    }
    const [status, total, retryMs, retryAtMs] = reply as [number, number, number, number];
    if (status === 1) return { id, tokens };
    throw tokensExceeded(limit, this.opts.config.RATE_LIMIT_WINDOW_MS, tokens, total, status < 0 ? undefined : { retryMs, retryAtMs });
  }

  /**
   * Sets a reservation to the tokens really used, if it is still in the
   * window (it keeps counting from its reservation time). Best effort: an
   * error is logged, never thrown; the hold then stands as reserved.
   */
  reconcile(keyId: string, hold: TokenHold, tokens: number): Promise<boolean> {
    return this.#settle(keyId, 'reconcile', hold, tokens);
  }

  /** Removes a reservation (its request was not admitted). Best effort, as `reconcile`. */
  release(keyId: string, hold: TokenHold): Promise<boolean> {
    return this.#settle(keyId, 'release', hold, 0);
  }

  async #settle(keyId: string, op: 'reconcile' | 'release', hold: TokenHold, tokens: number): Promise<boolean> {
    try {
      return (await this.#run(keyId, op, hold.id, tokens, 0))[0] === 1;
    } catch (err) {
      this.opts.log.warn({ err: String(err), reservation: hold.id, op }, 'token limit not updated; the reservation stands until it leaves the window');
      return false;
    }
  }

  async #run(keyId: string, op: TokenWindowOp, id: string, tokens: number, limit: number): Promise<number[]> {
    const { config, log } = this.opts;
    try {
      const reply = await this.#windows.run(this.#keys(keyId), op, config.RATE_LIMIT_WINDOW_MS, id, tokens, limit);
      if (this.#down) {
        this.#down = false;
        log.info('token limiter reaches Redis again');
      }
      return reply;
    } catch (err) {
      if (!this.#down) {
        this.#down = true;
        if (config.RATE_LIMIT_FAIL_OPEN) log.warn({ err: String(err) }, 'token limiter cannot reach Redis: admitting generations unchecked (RATE_LIMIT_FAIL_OPEN) until it answers');
        else log.error({ err: String(err) }, 'token limiter cannot reach Redis: answering 503 until it answers');
      }
      throw err;
    }
  }
}

/**
 * 429 `rate_limited` for the token dimension: `retry-after` and `resetAt`
 * come from Redis's clock, rounded up, so a retry then is admitted unless
 * other reservations took the room. A generation larger than the whole
 * limit can never fit: no `retry-after`.
 */
function tokensExceeded(limit: number, windowMs: number, tokens: number, total: number, retry?: { retryMs: number; retryAtMs: number }): AppError {
  const per = `${limit} tokens per ${windowMs / 1000} s`;
  if (!retry) {
    return new AppError('rate_limited', `This generation may use up to ${tokens} tokens, more than the token limit of ${per}; lower maxTokens or shorten the input.`,
      { dimension: 'tokens', limit, requestedTokens: tokens });
  }
  const seconds = Math.max(1, Math.ceil(retry.retryMs / 1000));
  return new AppError(
    'rate_limited',
    `Token limit of ${per} exceeded: this generation may use up to ${tokens} tokens and ${total} are held in the window; retry in ${seconds} seconds.`,
    { dimension: 'tokens', limit, requestedTokens: tokens, windowTokens: total, resetAt: new Date(retry.retryAtMs).toISOString() },
    { 'retry-after': String(seconds) },
  );
}
