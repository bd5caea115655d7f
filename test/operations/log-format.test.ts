import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestEnv, type TestEnv } from '../support/context.js';
import { spawnEntry, type Proc } from '../support/spawn.js';

/**
 * LOG_FORMAT: a worker process's lines as JSON (the default when stdout is not a terminal, as
 * here) and as readable pino-pretty lines when asked; neither carries a secret.
 */
let t: TestEnv;
const procs: Proc[] = [];
beforeAll(async () => {
  t = await createTestEnv();
}, 30_000);
afterAll(async () => {
  for (const p of procs) p.child.kill('SIGKILL');
  await t?.close();
});

async function workerLines(format?: string): Promise<string[]> {
  const p = spawnEntry('workers/main.ts', { ...t.env, LOG_LEVEL: 'info', WORKER_METRICS_PORT: '0', ...(format ? { LOG_FORMAT: format } : {}) });
  procs.push(p);
  await p.waitFor(/worker started/, 30_000);
  return p.output().split('\n').filter((l) => l.includes('worker started'));
}

it('JSON lines by default off a terminal; readable lines with LOG_FORMAT=pretty', async () => {
  const [json, pretty] = await Promise.all([workerLines(), workerLines('pretty')]);
  expect(json).toHaveLength(1);
  expect(JSON.parse(json[0]!)).toMatchObject({ level: 30, name: 'worker', msg: 'worker started' });
  expect(pretty).toHaveLength(1);
  expect(() => JSON.parse(pretty[0]!)).toThrow();
  expect(pretty[0]).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO \(worker\): worker started/);
  for (const line of [...json, ...pretty]) expect(line).not.toContain(t.env.PROMPTLAB_ADMIN_KEY!);
}, 60_000);
