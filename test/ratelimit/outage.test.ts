import { describe, expect, it } from 'vitest';
import { createRedis, waitReady } from '../../src/redis/client.js';
import { SlidingWindowStore } from '../../src/ratelimit/store.js';
import { startRedisServer } from '../support/redis-server.js';
import { busyWait, buildApp, caller, connect, dedicatedPerTest, sleep, uniquePrefix, type TestApp } from './app.js';

const d = dedicatedPerTest();

async function setup(env: Record<string, string> = {}) {
  d.server = await startRedisServer();
  d.redis = await connect(d.server.url);
  d.t = await buildApp(d.redis, { REDIS_PREFIX: uniquePrefix(), RATE_LIMIT_FREE: '2', ...env }, 50);
  return d.t;
}

const generate = (a: TestApp, keyId = 'key_x') => a.app.inject({ method: 'POST', url: '/v1/generate', headers: caller(keyId, 'free') });

async function timed(a: TestApp) {
  const started = performance.now();
  const r = await generate(a);
  return { r, ms: performance.now() - started };
}

/** Restarts the dedicated server on its port and waits until the app's client is ready again. */
async function restart() {
  d.server = await startRedisServer({ port: d.server!.port });
  const deadline = Date.now() + 5000;
  while (d.redis!.status !== 'ready' && Date.now() < deadline) await sleep(20);
}

const limiterLogs = (a: TestApp) => a.logs.filter((l) => /rate limiter/.test(l.msg));

describe('Redis down, fail-closed (default)', () => {
  it('answers 503 rate_limiter_unavailable within 100 ms, keeps /health up, recovers on its own', async () => {
    const a = await setup();
    expect((await generate(a)).statusCode).toBe(200);

    await d.server!.kill();
    for (let i = 0; i < 5; i++) {
      const { r, ms } = await timed(a);
      expect(r.statusCode).toBe(503);
      expect(r.json()).toMatchObject({ error: { code: 'rate_limiter_unavailable' } });
      expect(ms).toBeLessThan(100);
    }
    expect((await a.app.inject({ method: 'GET', url: '/health' })).statusCode).toBe(200);

    await restart();
    expect((await generate(a)).statusCode).toBe(200);
    expect(limiterLogs(a).map((l) => [l.level, l.msg])).toEqual([
      [50, expect.stringMatching(/answering 503/)],
      [30, 'rate limiter reaches Redis again'],
    ]);
  });

  it('a Redis that hangs (SIGSTOP) also gets 503 within 100 ms, then recovery on SIGCONT', async () => {
    const a = await setup();
    expect((await generate(a)).statusCode).toBe(200);
    d.server!.pause();
    const results = await Promise.all([timed(a), timed(a), timed(a)]);
    for (const { r, ms } of results) {
      expect(r.statusCode).toBe(503);
      expect(ms).toBeLessThan(100);
    }
    d.server!.resume();
    let status = 0;
    for (let i = 0; i < 50 && status !== 200; i++) {
      status = (await a.app.inject({ method: 'POST', url: '/v1/generate', headers: caller('key_y', 'free') })).statusCode;
      if (status !== 200) await sleep(20);
    }
    expect(status).toBe(200);
    // Checks already sent when Redis froze run when it resumes: their callers got
    // 503 yet are charged (here up to the limit). Conservative, and documented.
    expect(await d.redis!.llen(`${a.config.REDIS_PREFIX}:rl:k:key_x`)).toBe(2);
    expect((await generate(a)).statusCode).toBe(429);
  });

  it('a client that never reached Redis fails fast too', async () => {
    d.server = await startRedisServer();
    const port = d.server.port;
    await d.server.kill();
    d.redis = createRedis(`redis://127.0.0.1:${port}`);
    d.redis.on('error', () => {});
    d.t = await buildApp(d.redis, { REDIS_PREFIX: uniquePrefix() }, 50);
    const { r, ms } = await timed(d.t);
    expect(r.statusCode).toBe(503);
    expect(ms).toBeLessThan(100);
  });
});

describe('Redis down, RATE_LIMIT_FAIL_OPEN=true', () => {
  it('admits while Redis is down, warns once per outage, counts again after recovery', async () => {
    const a = await setup({ RATE_LIMIT_FAIL_OPEN: 'true' });
    expect((await generate(a)).statusCode).toBe(200);

    for (let outage = 1; outage <= 2; outage++) {
      await d.server!.kill();
      for (let i = 0; i < 5; i++) {
        const { r, ms } = await timed(a);
        expect(r.statusCode).toBe(200);
        expect(ms).toBeLessThan(100);
      }
      const warnings = a.logs.filter((l) => l.level === 40);
      expect(warnings).toHaveLength(outage);
      expect(warnings[outage - 1]!.msg).toMatch(/admitting requests unchecked/);

      if (outage === 2) {
        // A key the limiter already knows to be full stays rejected: no Redis needed for that answer.
        expect((await generate(a, 'key_full1')).statusCode).toBe(429);
      }

      await restart(); // a fresh, empty Redis
      const key = `key_full${outage}`;
      expect([(await generate(a, key)).statusCode, (await generate(a, key)).statusCode, (await generate(a, key)).statusCode]).toEqual([200, 200, 429]);
    }
    expect(limiterLogs(a).filter((l) => l.level === 30)).toHaveLength(2);
  });
});

describe('a healthy Redis and a stalled API', () => {
  const TIMEOUT_MS = 50;
  /** Keeps Redis busy for a few ms, well under the timeout (a Lua loop on another connection). */
  const SLOW_SCRIPT = 'local i = 0 while i < tonumber(ARGV[1]) do i = i + 1 end return i';

  async function storeSetup() {
    d.server = await startRedisServer();
    d.redis = await connect(d.server.url);
    // Another client, writing each command at once (no auto-pipelining): it times Redis's work exactly.
    const other = createRedis(d.server.url, { enableAutoPipelining: false });
    other.on('error', () => {});
    await waitReady(other);
    const store = new SlidingWindowStore({ redis: d.redis, prefix: 't:', timeoutMs: TIMEOUT_MS });
    const incr = (key: string) => new Promise<Error | null>((resolve) => store.incr(key, (err) => resolve(err), 60_000, 100));
    await incr('warm-up');
    return { other, incr };
  }

  it('a loop blocked for 3× the timeout between queueing and sending checks fails none of them', async () => {
    const { other, incr } = await storeSetup();
    for (let round = 0; round < 5; round++) {
      const first = Array.from({ length: 10 }, (_, i) => incr(`r${round}a${i}`));
      // Redis still busy a few ms with someone else's command when the batch arrives: slow, not hung.
      busyWait(3 * TIMEOUT_MS);
      const slow = other.eval(SLOW_SCRIPT, 0, 20_000);
      const second = Array.from({ length: 10 }, (_, i) => incr(`r${round}b${i}`));
      const errors = (await Promise.all([...first, ...second])).filter(Boolean);
      await slow;
      expect(errors).toEqual([]);
    }
    other.disconnect();
  });

  it('a loop blocked for 3× the timeout in the poll phase after the watchdog fired fails none of them', async () => {
    const { other, incr } = await storeSetup();
    for (let round = 0; round < 5; round++) {
      await incr(`r${round}w`); // arms the watchdog's timer, then leaves it pending with nothing to watch
      const pong = other.ping();
      busyWait(2 * TIMEOUT_MS); // the timer is now due and PONG waits in the socket
      // Read in the poll phase right after the timer fired and the checks below were written: blocks it
      // while their replies, held back a few ms by a busy Redis, arrive.
      const stalled = pong.then(() => busyWait(3 * TIMEOUT_MS));
      const slow = other.eval(SLOW_SCRIPT, 0, 20_000);
      const checks = Array.from({ length: 10 }, (_, i) => incr(`r${round}c${i}`));
      expect((await Promise.all(checks)).filter(Boolean)).toEqual([]);
      await Promise.all([stalled, slow]);
    }
    other.disconnect();
  });

  it('a loop blocked for 3× the timeout right after sending checks fails none of them', async () => {
    const { other, incr } = await storeSetup();
    for (let round = 0; round < 5; round++) {
      const checks = Array.from({ length: 20 }, (_, i) => incr(`r${round}c${i}`));
      // Queued after the batch's own setImmediate: runs right after the write.
      setImmediate(() => busyWait(3 * TIMEOUT_MS));
      expect((await Promise.all(checks)).filter(Boolean)).toEqual([]);
    }
    other.disconnect();
  });
});
