import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, deletePrefix, REDIS_URL } from '../support/context.js';
import { freePort, spawnCommand, type Proc } from '../support/spawn.js';

const dirs: string[] = [];
const procs: Proc[] = [];
const prefix = `plt_${randomBytes(5).toString('hex')}`;
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'promptlab-first-run-'));
  dirs.push(d);
  return d;
};
const stop = async (p: Proc) => {
  if (p.child.exitCode === null && p.child.signalCode === null) process.kill(-p.child.pid!, 'SIGTERM');
  return p.exited;
};

afterAll(async () => {
  await Promise.all(procs.map(stop));
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  await deletePrefix(prefix);
});

describe('npm start, as a new user runs it', () => {
  it('prints where everything is; a second npm start on the same data directory, and one on a taken port, each exit 1 with one line', async () => {
    const dataDir = tempDir();
    const port = await freePort();
    const env = { PROMPTLAB_DATA_DIR: dataDir, PORT: String(port), REDIS_URL, REDIS_PREFIX: prefix, PROMPTLAB_ADMIN_KEY: ADMIN_KEY, LOG_LEVEL: 'info', SHUTDOWN_GRACE_MS: '5000' };
    const first = spawnCommand('npm', ['start', '--silent'], env);
    procs.push(first);
    await first.waitFor(/providers live/, 60_000);
    const out = first.output();
    const base = `http://127.0.0.1:${port}`;
    for (const url of [`${base}/console`, `${base}/docs`, `${base}/admin/queues`]) expect(out).toContain(url);
    expect(out).toMatch(/Postgres: embedded PGlite in \S+pglite/);
    expect(out).toContain(`Redis: ${REDIS_URL}`);
    expect(out).toMatch(/providers live: fake \(canned answers, no real model\)/);
    const page = await fetch(`${base}/`, { redirect: 'manual' });
    expect(page.status).toBe(302);
    expect(page.headers.get('location')).toBe('/console/');

    const second = spawnCommand('npm', ['start', '--silent'], { ...env, PORT: String(await freePort()) });
    procs.push(second);
    expect(await second.exited).toBe(1);
    expect(second.output()).toMatch(new RegExp(`promptlab: another PromptLab \\(pid \\d+\\) is already running on the data directory ${dataDir}`));
    expect(second.output()).not.toMatch(/\n\s+at /);

    // PORT from a .env in the working directory: the port the first one holds.
    const cwd = tempDir();
    writeFileSync(join(cwd, '.env'), `# copied from .env.example\nPORT=${port}\nPROMPTLAB_DATA_DIR=${join(cwd, '.data')}\n`);
    const tsx = fileURLToPath(import.meta.resolve('tsx'));
    const main = fileURLToPath(new URL('../../src/main.ts', import.meta.url));
    // Nor REDIS_PREFIX: a second copy on its own data directory makes a prefix of its own and shares the Redis without a word.
    const { PORT: _, PROMPTLAB_DATA_DIR: __, REDIS_PREFIX: ___, ...rest } = env;
    // PROMPTLAB_ENV_FILE: its default, named because spawnCommand turns .env off for every other test.
    const third = spawnCommand(process.execPath, ['--import', tsx, main], { ...rest, PROMPTLAB_ENV_FILE: '.env' }, cwd);
    procs.push(third);
    expect(await third.exited).toBe(1);
    const lines = third.output().trim().split('\n').filter((l) => l.startsWith('promptlab:'));
    expect(lines).toEqual([`promptlab: port ${port} on 127.0.0.1 is already in use (another PromptLab, or another server): stop it, or set PORT to a free port.`]);
    expect(third.output()).not.toMatch(/\n\s+at /);
    const ownPrefix = readFileSync(join(cwd, '.data', 'redis-prefix'), 'utf8').trim();
    expect(ownPrefix).toMatch(/^promptlab-[0-9a-f]{8}$/);
    await deletePrefix(ownPrefix);

    // Stopped, it gives the data directory back.
    expect(existsSync(join(dataDir, 'promptlab.lock'))).toBe(true);
    await stop(first); // npm's exit; its node process drains a little longer
    await expect.poll(() => existsSync(join(dataDir, 'promptlab.lock')), { timeout: 15_000 }).toBe(false);
  }, 120_000);
});
