import { describe, expect, it } from 'vitest';
import type { AppError } from '../../src/errors/app-error.js';
import { SlidingWindowStore } from '../../src/ratelimit/store.js';
import { startRedisServer } from '../support/redis-server.js';
import { connect, dedicatedPerTest, scriptRuns } from './app.js';

const d = dedicatedPerTest();

type Reply = { err: Error | null; current?: number; ttl?: number };

/** A store on the test's own redis-server, whose command statistics no other test touches. */
async function setup() {
  d.server = await startRedisServer();
  d.redis = await connect(d.server.url);
  const events: string[] = [];
  const store = new SlidingWindowStore({ redis: d.redis, prefix: 't:', onOutage: () => events.push('outage') });
  const incr = (key: string, limit = 100) =>
    new Promise<Reply>((resolve) => store.incr(key, (err, res) => resolve({ err, ...res }), 60_000, limit));
  return { redis: d.redis, store, incr, events };
}

describe('the store batches the checks of one event-loop turn', () => {
  it('sends the checks of one turn as one script run, and checks of separate turns separately', async () => {
    const { redis, incr } = await setup();
    const replies = await Promise.all(Array.from({ length: 20 }, (_, i) => incr(`k${i % 5}`, 3)));
    expect(await scriptRuns(redis)).toBe(1);
    // Five keys, four checks each, limit 3: three admitted per key, the fourth turned away.
    expect(replies.map((r) => r.current)).toEqual([...Array(15).fill(0).map((_, i) => Math.floor(i / 5) + 1), 4, 4, 4, 4, 4]);
    expect(replies.every((r) => r.err === null)).toBe(true);

    for (let i = 0; i < 3; i++) await incr('seq');
    expect(await scriptRuns(redis)).toBe(1 + 3);
  });

  it('caps a run at 128 checks', async () => {
    const { redis, incr } = await setup();
    await Promise.all(Array.from({ length: 300 }, (_, i) => incr(`k${i}`)));
    expect(await scriptRuns(redis)).toBe(3);
    expect(await redis.llen('t:k299')).toBe(1);
  });

  it('fails only the check whose key is not a list, as 503 without declaring an outage', async () => {
    const { redis, incr, events } = await setup();
    await redis.set('t:foreign', 'x');
    const [good, foreign] = await Promise.all([incr('good'), incr('foreign')]);
    expect(good).toMatchObject({ err: null, current: 1 });
    expect((foreign.err as AppError).code).toBe('rate_limiter_unavailable');
    expect((foreign.err as AppError).message).not.toMatch(/foreign/); // the key stays in the log (cause), out of the response
    expect(events).toEqual([]);
  });
});
