import { afterEach, expect, it } from 'vitest';
import { cloneDatabase } from '../support/context.js';
import { PG_ADMIN_URL } from '../support/pg.js';
import { startRedisServer } from '../support/redis-server.js';
import { startTcpProxy } from '../support/tcp-proxy.js';
import { unreadyApp } from './unready-app.js';

const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn().catch(() => {});
});

it('/ready answers 503 naming Redis while its Redis is stopped, 200 once it is back, and 503 naming Postgres when Postgres is unreachable', async () => {
  let redisServer = await startRedisServer();
  cleanup.push(() => redisServer.stop());
  const clone = await cloneDatabase();
  cleanup.push(() => clone.drop());
  // Postgres through a relay the test can cut: the shared server stays up for everyone else.
  const proxy = await startTcpProxy(Number(new URL(PG_ADMIN_URL).port || 5432));
  cleanup.push(() => proxy.close());
  const url = new URL(clone.url);
  url.port = String(proxy.port);

  const built = await unreadyApp(url.toString(), redisServer.url, 'plt_ready');
  cleanup.push(() => built.close());
  const { app } = built;

  const ready = async () => {
    const res = await app.inject({ method: 'GET', url: '/ready' });
    return { status: res.statusCode, body: res.json() };
  };
  expect(await ready()).toEqual({ status: 200, body: { status: 'ok', checks: { redis: 'ok', postgres: 'ok' } } });

  await redisServer.stop();
  expect(await ready()).toEqual({
    status: 503,
    body: { status: 'unavailable', checks: { redis: 'down', postgres: 'ok' }, error: { code: 'service_unavailable', message: 'Not ready: redis not answering.' } },
  });
  expect((await app.inject({ method: 'GET', url: '/health' })).statusCode).toBe(200);

  redisServer = await startRedisServer({ port: redisServer.port });
  for (let i = 0; i < 100 && (await ready()).status !== 200; i++) await new Promise((r) => setTimeout(r, 50));
  expect((await ready()).status).toBe(200);

  proxy.setDown(true);
  expect(await ready()).toMatchObject({ status: 503, body: { checks: { redis: 'ok', postgres: 'down' }, error: { code: 'service_unavailable' } } });
  proxy.setDown(false);
  expect((await ready()).status).toBe(200);
});
