import { afterEach, expect, it } from 'vitest';
import { createTestEnv, type TestEnv } from '../support/context.js';

let t: TestEnv | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

/** Holds the event loop for `ms`, as a busy API (or two busy cores) does. */
const busy = (ms: number) => {
  const end = performance.now() + ms;
  while (performance.now() < end);
};

it('a burst while the API\'s event loop stalls past RATE_LIMIT_TIMEOUT_MS, with a healthy Redis: no 503, every limiter judges Redis by Redis', async () => {
  // The production timeout (the suite's default is longer, for its many processes on two cores).
  t = await createTestEnv({ RATE_LIMIT_TIMEOUT_MS: '50', RATE_LIMIT_ENTERPRISE: '100000' });
  const auth = await t.keyHeader('enterprise');
  const tpl = (await t.app.inject({ method: 'POST', url: '/v1/templates', headers: auth, payload: { name: 'b', body: 'Burst {{i}}', provider: 'fake' } })).json().id;
  // Stalls of 120 ms every 150 ms: each longer than the timeout, so a check whose timer fires before its reply is read would fail.
  const stalls = setInterval(() => busy(120), 150);
  try {
    // Keys never seen before go through the failed-attempts check too.
    const fresh = await Promise.all(Array.from({ length: 5 }, () => t!.keyHeader('enterprise')));
    const answers = await Promise.all(Array.from({ length: 300 }, (_, i) => t!.app.inject({
      method: 'POST', url: '/v1/generate', headers: i < 5 ? fresh[i]! : auth, payload: { templateId: tpl, variables: { i } },
    })));
    const statuses = answers.map((a) => a.statusCode);
    expect(statuses.filter((s) => s === 503)).toEqual([]);
    expect(statuses.filter((s) => s === 202)).toHaveLength(300);
  } finally {
    clearInterval(stalls);
  }
});
