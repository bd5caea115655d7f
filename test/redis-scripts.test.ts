import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedis, waitReady, type RedisClient } from '../src/redis/client.js';
import { defineScripts, readScript, SCRIPT_FILES } from '../src/redis/scripts.js';
import { REDIS_URL } from './support/context.js';

let redis: RedisClient;

beforeAll(async () => {
  redis = createRedis(REDIS_URL);
  await waitReady(redis);
});
afterAll(() => redis.disconnect());

const scripts = SCRIPT_FILES.map(readScript);

describe('every Lua script in SCRIPT_FILES', () => {
  it('is listed at least once', () => {
    expect(scripts.length).toBeGreaterThan(0);
  });

  it.each(scripts.map((s) => [s.name, s] as const))('%s opens with its contract header', (_name, s) => {
    const header = /^--\[\[([\s\S]*?)\]\]/.exec(s.lua)?.[1];
    expect(header, 'file must open with a --[[ ]] block').toBeDefined();
    const body = s.lua.slice(s.lua.indexOf(']]') + 2);
    if (s.numberOfKeys === undefined) {
      // Any number of keys: the header describes KEYS[i] (or KEYS[2i-1], KEYS[2i] when each item takes
      // two), the body names each as a local when it takes it.
      expect(header).toMatch(/KEYS\[\d*i(-\d+)?\]/);
      expect(header).toMatch(/ARGV\[/);
      expect(body).toMatch(/local \w+ = KEYS\[(\d+ \* )?i( - \d+)?\]/);
    } else {
      for (let i = 1; i <= s.numberOfKeys; i++) expect(header).toMatch(new RegExp(`KEYS\\[${i}\\]`));
      expect(header).not.toMatch(new RegExp(`KEYS\\[${s.numberOfKeys + 1}\\]`));
      expect(header).toMatch(/ARGV\[1\]|no ARGV/i);
      // The body names its keys as locals at once.
      for (let i = 1; i <= s.numberOfKeys; i++) expect(body).toMatch(new RegExp(`local \\w+ = KEYS\\[${i}\\]`));
    }
    expect(header).toMatch(/Output:/);
  });

  it.each(scripts.map((s) => [s.name, s] as const))('%s compiles on real Redis and is defined as a command', async (name, s) => {
    const sha = await redis.script('LOAD', s.lua);
    expect(sha).toBe(createHash('sha1').update(s.lua).digest('hex'));
    defineScripts(redis);
    expect(typeof (redis as unknown as Record<string, unknown>)[name]).toBe('function');
  });
});
