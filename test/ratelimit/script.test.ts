import type { RedisClient } from '../../src/redis/client.js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { deletePrefix } from '../support/context.js';
import { connect, sleep, uniquePrefix } from './app.js';

let redis: RedisClient;
let prefix: string;

beforeAll(async () => {
  redis = await connect();
});
afterEach(async () => {
  await deletePrefix(prefix);
});
afterAll(async () => {
  redis.disconnect();
});

const newKey = () => {
  prefix = uniquePrefix();
  return `${prefix}:rl:k:key_test`;
};

/** One check: `[count, resetMs, admitted]`. */
const check = async (key: string, windowMs: number, limit: number, record: 0 | 1) =>
  (await redis.slidingWindow(1, [key], [windowMs, limit, record])) as [number, number, number];

/** Redis's clock in µs, the one the script uses. */
async function redisNowUs(): Promise<number> {
  const [s, us] = await redis.time();
  return Number(s) * 1e6 + Number(us);
}

describe('slidingWindow-n.lua', () => {
  it('admits up to the limit, then rejects without recording or extending the key', async () => {
    const key = newKey();
    const replies = [];
    for (let i = 0; i < 5; i++) replies.push(await check(key, 60_000, 3, 1));
    expect(replies.map(([count, , admitted]) => [count, admitted])).toEqual([[1, 1], [2, 1], [3, 1], [3, 0], [3, 0]]);

    const ttlBefore = await redis.pttl(key);
    for (let i = 0; i < 50; i++) await check(key, 60_000, 3, 1);
    expect(await redis.llen(key)).toBe(3);
    expect(await redis.pttl(key)).toBeLessThanOrEqual(ttlBefore);
    expect(ttlBefore).toBeGreaterThan(0);
    expect(ttlBefore).toBeLessThanOrEqual(60_001);
  });

  it('keeps one entry per admitted request, newest first, even when many land in the same microsecond', async () => {
    const key = newKey();
    const pipeline = redis.pipeline();
    for (let i = 0; i < 300; i++) pipeline.slidingWindow(1, [key], [60_000, 1000, 1]);
    const results = (await pipeline.exec()) ?? [];
    expect(results.every(([err, res]) => err === null && (res as number[])[2] === 1)).toBe(true);
    const times = (await redis.lrange(key, 0, -1)).map(Number);
    expect(times).toHaveLength(300);
    expect(times).toEqual([...times].sort((a, b) => b - a));
    expect(Number.isInteger(times[0]) && times[0]! > 1e15).toBe(true);
  });

  it('reports the ms until the oldest request leaves the window', async () => {
    const key = newKey();
    await check(key, 2000, 3, 1);
    await sleep(150);
    const [count, resetMs] = await check(key, 2000, 3, 1);
    const now = await redisNowUs();
    const oldest = await redis.lindex(key, -1);
    const exact = (Number(oldest) + 2000 * 1000 - now) / 1000;
    expect(count).toBe(2);
    expect(resetMs).toBeGreaterThanOrEqual(exact);
    expect(resetMs).toBeLessThan(exact + 50);
    expect(resetMs).toBeLessThanOrEqual(1850 + 1);
  });

  it('slides: a slot frees exactly when the oldest request is one window old', async () => {
    const key = newKey();
    for (let i = 0; i < 2; i++) await check(key, 400, 2, 1);
    const [, resetMs, admitted] = await check(key, 400, 2, 1);
    expect(admitted).toBe(0);
    await sleep(Math.max(0, resetMs - 60));
    expect((await check(key, 400, 2, 1))[2]).toBe(0);
    await sleep(120);
    expect((await check(key, 400, 2, 1))[2]).toBe(1);
  });

  it('reads without recording (record = 0)', async () => {
    const key = newKey();
    expect(await check(key, 60_000, 3, 0)).toEqual([0, 0, 0]);
    await check(key, 60_000, 3, 1);
    const [count, resetMs, admitted] = await check(key, 60_000, 3, 0);
    expect([count, admitted]).toEqual([1, 0]);
    expect(resetMs).toBeGreaterThan(59_000);
    expect(await redis.llen(key)).toBe(1);
  });

  it('lets the key expire one window after the last admitted request', async () => {
    const key = newKey();
    await check(key, 200, 5, 1);
    await sleep(260);
    expect(await redis.exists(key)).toBe(0);
  });

  it('runs several checks per call in order, each with its own window and limit; a key may come twice', async () => {
    const [a, b] = [newKey(), `${prefix}:rl:k:key_other`];
    await check(a, 60_000, 2, 1);
    const reply = await redis.slidingWindow(4, [a, b, a, b], [60_000, 2, 1, 500, 1, 1, 60_000, 2, 1, 500, 1, 0]);
    expect(reply).toHaveLength(12);
    const byCheck = [0, 1, 2, 3].map((i) => reply.slice(3 * i, 3 * i + 3));
    expect(byCheck.map(([count, , admitted]) => [count, admitted])).toEqual([
      [2, 1], // a fills its window of 2
      [1, 1], // b, its own bucket and limit
      [2, 0], // a again in the same call: the first one counted, so this one is turned away
      [1, 0], // b read only
    ]);
    expect(byCheck[1]![1]).toBeGreaterThan(400); // b's reset follows b's own 500 ms window
    expect(byCheck[1]![1]).toBeLessThanOrEqual(500);
    expect(await redis.llen(a)).toBe(2);
    expect(await redis.llen(b)).toBe(1);
  });

  it('fails only the check whose key holds something other than a list', async () => {
    const good = newKey();
    const foreign = `${prefix}:rl:k:foreign`;
    await redis.set(foreign, 'not a list');
    const reply = await redis.slidingWindow(3, [good, foreign, good], [60_000, 5, 1, 60_000, 5, 1, 60_000, 5, 1]);
    expect([reply[0], reply[3], reply[6]]).toEqual([1, -1, 2]);
    expect(await redis.get(foreign)).toBe('not a list');
  });
});
