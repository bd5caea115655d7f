import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConfigSchema, loadConfig } from '../src/config/index.js';
import { ERRORS } from '../src/errors/catalogue.js';
import { spawnEntry } from './support/spawn.js';

const configPage = readFileSync(new URL('../docs/configuration.md', import.meta.url), 'utf8');
const errorsPage = readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8');
const envExample = readFileSync(new URL('../.env.example', import.meta.url), 'utf8');
const VARS = Object.keys(ConfigSchema.properties);

describe('configuration', () => {
  it('applies defaults and converts types', () => {
    const c = loadConfig({ PORT: '4100', RATE_LIMIT_FAIL_OPEN: 'true', DATABASE_URL: '' });
    expect(c).toMatchObject({ PORT: 4100, RATE_LIMIT_FAIL_OPEN: true, WORKER_CONCURRENCY: 10, CACHE_TTL_SECONDS: 3600, REDIS_URL: 'redis://127.0.0.1:6379' });
    expect(c.DATABASE_URL).toBeUndefined();
  });

  it.each([
    ['PORT', 'abc'], ['WORKER_CONCURRENCY', '0'], ['LOG_LEVEL', 'loud'], ['REDIS_URL', 'localhost:6379'],
    ['DATABASE_URL', 'mysql://x'], ['RATE_LIMIT_FAIL_OPEN', 'maybe'], ['PROVIDER_TIMEOUT_MS', '1.5'],
  ])('names the variable of a bad value: %s=%s', (name, value) => {
    expect(() => loadConfig({ [name]: value })).toThrow(new RegExp(`\\b${name}=`));
  });

  it('never prints the value of a secret it rejects', () => {
    expect(() => loadConfig({ PROMPTLAB_ADMIN_KEY: 'short-secret-value' })).toThrow(/PROMPTLAB_ADMIN_KEY=\(secret, not shown\)/);
    expect(() => loadConfig({ PROMPTLAB_ADMIN_KEY: 'short-secret-value' })).not.toThrow(/short-secret-value/);
  });

  it('a process with a bad value exits 1 with a message naming it', async () => {
    const p = spawnEntry('src/server.ts', { PORT: 'not-a-port', DATABASE_URL: 'postgres://x@127.0.0.1/none' });
    expect(await p.exited).toBe(1);
    expect(p.output()).toMatch(/PORT="not-a-port"/);
    expect(p.output()).not.toMatch(/\n\s+at /); // a message, not a stack trace
  });

  it('split processes refuse to start without DATABASE_URL', async () => {
    const p = spawnEntry('workers/main.ts', {});
    expect(await p.exited).toBe(1);
    expect(p.output()).toMatch(/DATABASE_URL is required for npm run worker/);
  });
});

describe('documentation stays true', () => {
  it('.env.example lists every variable with its default', () => {
    for (const name of VARS) {
      const d = (ConfigSchema.properties as Record<string, { default?: unknown }>)[name]!.default;
      expect(envExample, name).toMatch(new RegExp(d === undefined ? `^# ${name}=$` : `^${name}=${String(d).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'));
    }
  });

  it('the configuration table (docs/configuration.md) lists every variable', () => {
    for (const name of VARS) expect(configPage, name).toMatch(new RegExp(`^\\| \`${name}\` \\|`, 'm'));
  });

  it('the error table (docs/errors.md) lists every code with its status', () => {
    for (const [code, { status }] of Object.entries(ERRORS)) expect(errorsPage, code).toMatch(new RegExp(`^\\| \`${code}\` \\| ${status} \\|`, 'm'));
  });
});
