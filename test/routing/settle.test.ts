import type { RedisClient } from '../../src/redis/client.js';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { TokenWindows } from '../../src/ratelimit/token-windows.js';
import { deletePrefix } from '../support/context.js';
import { connect, sleep, uniquePrefix } from '../ratelimit/app.js';

/**
 * The outbound limits count a call from its reservation until a window after the call ended
 * ('settle'), so a call that left late still counts for a whole window from when the upstream
 * saw it. Here with a 300 ms window and a limit of 1, on Redis's clock.
 */
let redis: RedisClient;
let windows: TokenWindows;
const prefix = uniquePrefix();
beforeAll(async () => {
  redis = await connect();
  windows = new TokenWindows(redis);
});
afterAll(async () => {
  await deletePrefix(prefix);
  redis.disconnect();
});

it('a settled hold counts for a window from when its call ended, not from its reservation', async () => {
  const keys = [`${prefix}:w`, `${prefix}:w:n`] as const;
  const reserve = (id: string) => windows.run(keys, 'reserve', 300, id, 1, 1);
  expect((await reserve('a'))[0]).toBe(1);
  await sleep(200); // the call took 200 ms (or left 200 ms late)
  expect((await windows.run(keys, 'settle', 300, 'a', 0, 0))[0]).toBe(1);
  await sleep(150); // 350 ms after the reservation: a plain hold would have left the window
  const refused = await reserve('b');
  expect(refused[0]).toBe(0);
  expect(refused[2]).toBeGreaterThan(50); // it leaves ~300 ms after the settle
  await sleep(200);
  expect((await reserve('b'))[0]).toBe(1);
  // Settling a hold that is gone changes nothing.
  expect((await windows.run(keys, 'settle', 300, 'gone', 5, 0))[0]).toBe(0);
});
