import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startFakeLlm, type FakeLlm } from '../fakes/llm-server.js';
import { createTestEnv, type TestEnv } from '../support/context.js';
import { spawnEntry, type Proc } from '../support/spawn.js';

/**
 * A deployment's own RPM, enforced on the way out across worker processes: two workers, 300 jobs
 * queued for a group whose one deployment takes 60 requests a minute. Every request is timed at
 * the upstream: no 60-second window ever holds more than 60, the jobs wait in the queue (none
 * dies, none is sent into a 429), and the next ones go as the window slides.
 */
let llm: FakeLlm;
let t: TestEnv;
const procs: Proc[] = [];

beforeAll(async () => {
  llm = await startFakeLlm();
  const file = join(mkdtempSync(join(tmpdir(), 'rpm-')), 'routes.json');
  writeFileSync(file, JSON.stringify({
    deployments: [{ name: 'paced', provider: 'openai-compatible', baseUrl: llm.openaiBaseUrl, model: 'up-model', rpm: 60 }],
    groups: [{ name: 'paced-gpt', deployments: ['paced'] }],
  }));
  t = await createTestEnv({ ROUTES_FILE: file, PROVIDERS_ALLOW_PRIVATE: 'true' });
}, 30_000);
afterAll(async () => {
  for (const p of procs) p.child.kill('SIGKILL');
  await t?.close();
  await llm?.close();
});

it('two worker processes never pass a deployment\'s 60 RPM in any minute window, with 300 jobs queued', async () => {
  for (let i = 0; i < 2; i++) {
    const p = spawnEntry('workers/main.ts', { ...t.env, WORKER_CONCURRENCY: '20', WORKER_METRICS_PORT: '0', LOG_LEVEL: 'info' });
    procs.push(p);
    await p.waitFor(/worker started/, 30_000);
  }
  const headers = (await t.keyHeader('enterprise')).authorization!;
  const batch = await t.app.inject({
    method: 'POST', url: '/v1/batches', headers: { authorization: headers },
    payload: { requests: Array.from({ length: 300 }, (_, i) => ({ body: { model: 'paced-gpt', messages: [{ role: 'user', content: `paced ${i}` }] } })) },
  });
  expect(batch.statusCode, batch.body).toBe(201);
  const start = Date.now();
  // Watch the upstream past one window and a few seconds into the next.
  await new Promise((r) => setTimeout(r, 66_000));
  const times = llm.calls.map((c) => c.at).sort((a, b) => a - b);
  let most = 0;
  for (let i = 0; i < times.length; i++) {
    let j = i;
    while (j < times.length && times[j]! - times[i]! < 60_000) j++;
    most = Math.max(most, j - i);
  }
  expect(most).toBeLessThanOrEqual(60);
  // The first window was used to the full, and the next one has started: the jobs waited, none was lost.
  expect(times.filter((at) => at - start < 60_000).length).toBe(60);
  expect(times.length).toBeGreaterThan(60);
  const dead = await t.database.db.execute("select count(*)::int as n from generations where status = 'dead'");
  expect((dead as unknown as { rows: { n: number }[] }).rows[0]!.n).toBe(0);
}, 120_000);
