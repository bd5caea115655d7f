import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { redisKeys } from '../../src/redis/keys.js';
import type { Caller } from '../../src/auth/caller.js';
import { loadConfig } from '../../src/config/index.js';
import { AppError } from '../../src/errors/app-error.js';
import { createRedis, type RedisClient } from '../../src/redis/client.js';
import { TokenLimiter } from '../../src/ratelimit/tokens.js';
import { deletePrefix } from '../support/context.js';
import { connect, sleep, uniquePrefix } from './app.js';
import { commandsSent } from '../support/commands.js';

let redis: RedisClient;
let prefix = '';
const closing: RedisClient[] = [];
beforeAll(async () => {
  redis = await connect();
});
afterEach(async () => {
  for (const r of closing.splice(0)) r.disconnect();
  await deletePrefix(prefix);
});
afterAll(() => redis.disconnect());

const log = pino({ level: 'silent' });
const pro: Caller = { keyId: 'key_tpm', tier: 'pro', admin: false, role: 'admin', projectId: 'default' };

/** A limiter whose pro keys get `limit` tokens per `windowMs`, on its own prefix. */
function limiter(limit: number, windowMs: number, env: Record<string, string> = {}, client = redis): TokenLimiter {
  prefix = uniquePrefix();
  const config = loadConfig({ REDIS_PREFIX: prefix, RATE_LIMIT_TPM_PRO: String(limit), RATE_LIMIT_WINDOW_MS: String(windowMs), RATE_LIMIT_TIMEOUT_MS: '1000', ...env });
  return new TokenLimiter({ redis: client, config, log });
}
const timesKey = () => redisKeys(prefix).tokens(pro.keyId)[0];
const tokensKey = () => `${timesKey()}:n`;

/** Redis's clock in µs, the one the script uses. */
async function redisNowUs(): Promise<number> {
  const [s, us] = await redis.time();
  return Number(s) * 1e6 + Number(us);
}

/** The 429 a reserve threw (fails the test if it did not throw one). */
async function refusal(p: Promise<unknown>): Promise<AppError> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(AppError);
  expect((err as AppError).code).toBe('rate_limited');
  return err as AppError;
}

const windowTotal = async () => Number((await redis.hget(tokensKey(), '#')) ?? 0);

describe('tokenWindow-n.lua through TokenLimiter', () => {
  it('admits while the window plus the reservation fit, then 429 with dimension tokens and a retry-after from Redis time', async () => {
    const tl = limiter(1000, 60_000);
    expect(await tl.reserve(pro, 'r1', 600)).toEqual({ id: 'r1', tokens: 600 });
    expect(await tl.reserve(pro, 'r2', 400)).toEqual({ id: 'r2', tokens: 400 });
    const before = await redisNowUs();
    const err = await refusal(tl.reserve(pro, 'r3', 1));
    const after = await redisNowUs();
    const leaves = Number(await redis.zscore(timesKey(), 'r1')) + 60_000_000; // r1 alone frees enough
    expect(err.statusCode).toBe(429);
    expect(err.details).toMatchObject({ dimension: 'tokens', limit: 1000, requestedTokens: 1, windowTokens: 1000 });
    expect(Date.parse(String(err.details!.resetAt))).toBe(Math.ceil(leaves / 1000));
    const retryAfter = Number(err.headers!['retry-after']);
    expect(retryAfter * 1e6).toBeGreaterThanOrEqual(leaves - before);
    expect(retryAfter).toBe(60);
    expect(after).toBeLessThan(leaves);
    expect(await windowTotal()).toBe(1000);
    expect(await redis.zcard(timesKey())).toBe(2); // a refusal records nothing
  });

  it('the operations of one turn go as one script call and apply in order: a release frees room for the reserve after it', async () => {
    const client = await connect();
    closing.push(client);
    const tl = limiter(100, 60_000, {}, client);
    expect(await tl.reserve(pro, 'held', 60)).toEqual({ id: 'held', tokens: 60 });
    let turn: PromiseSettledResult<unknown>[] = [];
    const sent = await commandsSent(client, async () => {
      turn = await Promise.allSettled([
        tl.reserve(pro, 'first', 50), // 110 > 100: refused
        tl.release(pro.keyId, { id: 'held', tokens: 60 }),
        tl.reserve(pro, 'second', 50), // fits once 'held' is gone
        tl.reserve(pro, 'third', 50), // 100: fits exactly
        tl.reserve(pro, 'fourth', 1), // refused
      ]);
    });
    expect(sent).toEqual(['evalsha']);
    expect(turn.map((r) => r.status)).toEqual(['rejected', 'fulfilled', 'fulfilled', 'fulfilled', 'rejected']);
    expect(await windowTotal()).toBe(100);
  });

  it('names the moment the reservations that must leave have left: the k oldest, not just the first', async () => {
    const tl = limiter(100, 60_000);
    for (const id of ['a', 'b', 'c']) await tl.reserve(pro, id, 30);
    const at = async (id: string) => Math.ceil((Number(await redis.zscore(timesKey(), id)) + 60_000_000) / 1000);
    // 90 held: 40 more needs 30 gone (a), 70 needs 60 gone (a, b), 100 needs all three.
    expect(Date.parse(String((await refusal(tl.reserve(pro, 'x', 40))).details!.resetAt))).toBe(await at('a'));
    expect(Date.parse(String((await refusal(tl.reserve(pro, 'y', 70))).details!.resetAt))).toBe(await at('b'));
    expect(Date.parse(String((await refusal(tl.reserve(pro, 'z', 100))).details!.resetAt))).toBe(await at('c'));
  });

  it('exact at the boundary: refused before the moment it named, admitted from it on (brackets on Redis TIME)', async () => {
    const W = 300;
    const tl = limiter(100, W);
    await tl.reserve(pro, 'first', 100);
    const at = Number(await redis.zscore(timesKey(), 'first')) + W * 1000;
    const refusedAt: number[] = [];
    let admittedFrom = 0;
    for (;;) {
      const t0 = await redisNowUs();
      const got = await tl.reserve(pro, 'next', 100).catch((e: AppError) => {
        expect(Date.parse(String(e.details!.resetAt))).toBe(Math.ceil(at / 1000));
        return undefined;
      });
      const t1 = await redisNowUs();
      if (got) {
        admittedFrom = t1;
        break;
      }
      refusedAt.push(t0);
    }
    // No refusal began at or after the moment, and the admission ended at or after it.
    expect(Math.max(...refusedAt)).toBeLessThan(at);
    expect(admittedFrom).toBeGreaterThanOrEqual(at);
    expect(refusedAt.length).toBeGreaterThan(1);
  });

  it('Retry-After and resetAt name the real moment, rounded up: the first second and ms at which the hold has left', async () => {
    const tl = limiter(100, 60_000);
    await tl.reserve(pro, 'old', 100);
    // Move the reservation so it leaves the window 1.5 s from now, at a µs that is no whole ms.
    const leaveAt = Math.floor((await redisNowUs()) / 1000) * 1000 + 1_500_321;
    await redis.zadd(timesKey(), leaveAt - 60_000_000, 'old');
    const err = await refusal(tl.reserve(pro, 'new', 1));
    expect(Date.parse(String(err.details!.resetAt))).toBe(Math.ceil(leaveAt / 1000));
    expect(Date.parse(String(err.details!.resetAt)) * 1000).toBeGreaterThan(leaveAt);
    expect(Number(err.headers!['retry-after'])).toBe(2);
    await sleepUntilRedis(Math.ceil(leaveAt / 1000));
    expect(await tl.reserve(pro, 'new', 1)).toEqual({ id: 'new', tokens: 1 });
  });

  it('reconcile sets a hold to the tokens used, so more fits; out of the window it changes nothing', async () => {
    const tl = limiter(1000, 60_000);
    const hold = (await tl.reserve(pro, 'g1', 900))!;
    await refusal(tl.reserve(pro, 'g2', 500));
    expect(await tl.reconcile(pro.keyId, hold, 300)).toBe(true);
    expect(await windowTotal()).toBe(300);
    expect(await tl.reserve(pro, 'g2', 500)).toBeDefined();
    expect(await windowTotal()).toBe(800);
    // Retries can use more than the estimate: the window counts what was really sent.
    expect(await tl.reconcile(pro.keyId, hold, 1200)).toBe(true);
    expect(await windowTotal()).toBe(1700);
    expect(Number(await redis.hget(tokensKey(), 'g1'))).toBe(1200);
    // A hold reconciled to nothing holds nothing and goes.
    expect(await tl.reconcile(pro.keyId, hold, 0)).toBe(true);
    expect(await redis.zscore(timesKey(), 'g1')).toBeNull();
    expect(await windowTotal()).toBe(500);
    expect(await tl.reconcile(pro.keyId, { id: 'never', tokens: 5 }, 5)).toBe(false);
  });

  it('release gives a hold back; a second release is a no-op', async () => {
    const tl = limiter(1000, 60_000);
    const hold = (await tl.reserve(pro, 'j', 700))!;
    expect(await tl.release(pro.keyId, hold)).toBe(true);
    expect(await tl.release(pro.keyId, hold)).toBe(false);
    expect(await windowTotal()).toBe(0);
    expect(await tl.reserve(pro, 'k', 1000)).toBeDefined();
  });

  it('a reservation larger than the whole limit never fits: 429 without retry-after', async () => {
    const tl = limiter(1000, 60_000);
    const err = await refusal(tl.reserve(pro, 'big', 1001));
    expect(err.details).toMatchObject({ dimension: 'tokens', limit: 1000, requestedTokens: 1001 });
    expect(err.details!.resetAt).toBeUndefined();
    expect(err.headers).toBeUndefined();
  });

  it('entries leave with the window: trimmed on the next call, and both keys expire one window after the last reservation', async () => {
    const tl = limiter(1000, 200);
    await tl.reserve(pro, 'e1', 400);
    const ttl = await redis.pttl(timesKey());
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(200);
    expect(await redis.pttl(tokensKey())).toBeLessThanOrEqual(200);
    await sleep(120);
    await tl.reserve(pro, 'e2', 600);
    await sleep(120);
    // e1 left: the next call trims it and counts e2 only.
    expect(await tl.reserve(pro, 'e3', 400)).toBeDefined();
    expect(await redis.zrange(timesKey(), '0', '-1')).toEqual(['e2', 'e3']);
    expect(await windowTotal()).toBe(1000);
    await sleep(260);
    expect(await redis.exists(timesKey(), tokensKey())).toBe(0);
  });

  it('the admin key is not token-limited and touches nothing', async () => {
    const tl = limiter(1, 60_000);
    expect(await tl.reserve({ keyId: 'admin', tier: 'enterprise', admin: true, role: 'global_admin', projectId: null }, 'a', 1_000_000)).toBeUndefined();
    expect(await redis.exists(redisKeys(prefix).tokens('admin')[0])).toBe(0);
  });
});

describe('Redis unreachable', () => {
  const down = () => {
    const r = createRedis('redis://127.0.0.1:1', { retryStrategy: () => null });
    r.on('error', () => {});
    closing.push(r);
    return r;
  };

  it('fail-closed: reserve is a 503 rate_limiter_unavailable; reconcile and release never throw', async () => {
    const tl = limiter(1000, 60_000, {}, down());
    const err = await tl.reserve(pro, 'r', 10).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe('rate_limiter_unavailable');
    expect(await tl.reconcile(pro.keyId, { id: 'r', tokens: 10 }, 5)).toBe(false);
    expect(await tl.release(pro.keyId, { id: 'r', tokens: 10 })).toBe(false);
  });

  it('fail-open: reserve admits unchecked (no hold)', async () => {
    const tl = limiter(1000, 60_000, { RATE_LIMIT_FAIL_OPEN: 'true' }, down());
    expect(await tl.reserve(pro, 'r', 10)).toBeUndefined();
  });
});

/** Sleeps until Redis's clock reads at least `ms` (ms since the epoch). */
async function sleepUntilRedis(ms: number): Promise<void> {
  for (;;) {
    const left = ms - (await redisNowUs()) / 1000;
    if (left <= 0) return;
    await sleep(Math.min(left, 200));
  }
}
