import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, cloneDatabase, deletePrefix, REDIS_URL } from '../support/context.js';
import { freePort, spawnCommand, spawnEntry, type Proc } from '../support/spawn.js';

/** PromptLabs sharing the machine's Redis, as people start them: no one shares a prefix by accident. */
const procs: Proc[] = [];
const dirs: string[] = [];
const prefixes: string[] = [];
const drops: (() => Promise<void>)[] = [];
afterAll(async () => {
  // npm start runs in its own process group (npm, its shell and node): kill the group; a spawned entry, the process.
  for (const p of procs) if (p.child.exitCode === null) p.child.spawnargs[0] === 'npm' ? process.kill(-p.child.pid!, 'SIGKILL') : p.child.kill('SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  for (const p of prefixes) await deletePrefix(p);
  for (const drop of drops) await drop();
});

const admin = { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' };
async function post(base: string, path: string, body: unknown, headers: Record<string, string> = admin) {
  const res = await fetch(`${base}${path}`, { method: 'POST', headers, body: JSON.stringify(body) });
  return { status: res.status, body: await res.json() as Record<string, unknown> };
}

/** `npm start` on a data directory of its own, no REDIS_PREFIX: resolves with its base URL once it listens. */
async function npmStart(): Promise<{ base: string; dataDir: string }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'promptlab-instance-'));
  dirs.push(dataDir);
  const port = await freePort();
  const p = spawnCommand('npm', ['start', '--silent'], {
    PROMPTLAB_DATA_DIR: dataDir, PORT: String(port), REDIS_URL, PROMPTLAB_ADMIN_KEY: ADMIN_KEY, LOG_LEVEL: 'info', FAKE_LATENCY_MS: '5',
    // Tests run many processes on two cores: a Redis starved of CPU may answer a limiter check later than production's 50 ms.
    RATE_LIMIT_TIMEOUT_MS: '1000',
  });
  procs.push(p);
  await p.waitFor(/providers live/, 90_000);
  prefixes.push(readFileSync(join(dataDir, 'redis-prefix'), 'utf8').trim());
  return { base: `http://127.0.0.1:${port}`, dataDir };
}

describe('instances on one Redis', () => {
  it('two npm starts with two data directories: each makes its own prefix; 200 generations each all complete, none taken by the other', async () => {
    const [a, b] = await Promise.all([npmStart(), npmStart()]);
    expect(prefixes[0]).not.toBe(prefixes[1]);
    await Promise.all([a, b].map(async ({ base }, n) => {
      const key = (await post(base, '/v1/api-keys', { name: 'k', tier: 'enterprise' })).body.key as string;
      const auth = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
      const tpl = (await post(base, '/v1/templates', { name: 't', body: 'Copy {{n}} says {{i}}', provider: 'fake' }, auth)).body.id;
      const answers = await Promise.all(Array.from({ length: 200 }, (_, i) => post(base, '/v1/generate?wait=30', { templateId: tpl, variables: { n, i } }, auth)));
      expect(answers.filter((r) => r.status !== 200).map((r) => r.body)).toEqual([]);
      expect(answers.filter((r) => r.body.status === 'completed')).toHaveLength(200);
    }));
  }, 180_000);

  it('two APIs on two databases with one REDIS_PREFIX: the second exits 1 with one line naming the prefix and both databases', async () => {
    const [one, two] = await Promise.all([cloneDatabase(), cloneDatabase()]);
    drops.push(one.drop, two.drop);
    const prefix = `plt_owner_${process.pid}`;
    prefixes.push(prefix);
    const env = { REDIS_URL, REDIS_PREFIX: prefix, PROMPTLAB_ADMIN_KEY: ADMIN_KEY, LOG_LEVEL: 'info' };
    const first = spawnEntry('src/server.ts', { ...env, DATABASE_URL: one.url, PORT: String(await freePort()) });
    procs.push(first);
    await first.waitFor(/PromptLab listens/, 60_000);
    const second = spawnEntry('src/server.ts', { ...env, DATABASE_URL: two.url, PORT: String(await freePort()) });
    procs.push(second);
    expect(await second.exited).toBe(1);
    const lines = second.output().trim().split('\n').filter((l) => l.startsWith('promptlab:'));
    expect(lines).toEqual([expect.stringMatching(new RegExp(`^promptlab: REDIS_PREFIX=${prefix} is already used by a PromptLab on another database \\(postgres://postgres@127\\.0\\.0\\.1:5432/${one.name}\\), and this one is on postgres://postgres@127\\.0\\.0\\.1:5432/${two.name}: give each its own REDIS_PREFIX`))]);
    expect(second.output()).not.toMatch(/\n\s+at /);
    // The first is unharmed, and a process on its own database is welcome.
    const again = spawnEntry('src/server.ts', { ...env, DATABASE_URL: one.url, PORT: String(await freePort()) });
    procs.push(again);
    await again.waitFor(/PromptLab listens/, 60_000);
  }, 120_000);
});
