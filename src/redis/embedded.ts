import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Redis } from 'ioredis';

/** Raised when no Redis answers and none can be started; its message says how to get one. */
export class RedisUnavailableError extends Error {
  override name = 'RedisUnavailableError';
}

async function answers(url: string, timeoutMs = 1500): Promise<boolean> {
  const probe = new Redis(url, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: timeoutMs });
  probe.on('error', () => {});
  try {
    await probe.connect();
    await probe.ping();
    return true;
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}

/**
 * For `npm start` on a laptop: use the Redis at `url`, or, when nothing answers
 * there and `redis-server` is on PATH, start one as a child process with its
 * data (AOF) under `dataDir/redis`. Returns the child to stop at exit, if any.
 */
export async function ensureRedis(url: string, dataDir: string): Promise<ChildProcess | undefined> {
  if (await answers(url)) return undefined;
  const u = new URL(url);
  const isLocal = ['127.0.0.1', 'localhost', '::1', '[::1]'].includes(u.hostname);
  const found = spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
  if (!isLocal || !found) {
    throw new RedisUnavailableError(
      `Nothing answers at REDIS_URL=${u.protocol}//${u.host}${isLocal ? ' and redis-server is not on PATH' : ''}. ` +
        'PromptLab needs Redis 6.2 or newer for its queue, cache and rate limiter: install it (Debian/Ubuntu: ' +
        '`apt-get install redis-server`; macOS: `brew install redis`), or run `docker compose up -d redis`, ' +
        'or point REDIS_URL at a running server.',
    );
  }
  const dir = resolve(join(dataDir, 'redis'));
  mkdirSync(dir, { recursive: true });
  const child = spawn('redis-server', [
    '--port', u.port || '6379', '--bind', '127.0.0.1', '--dir', dir,
    '--appendonly', 'yes', '--save', '', '--maxmemory-policy', 'noeviction', '--logfile', join(dir, 'redis.log'),
  ], { stdio: 'ignore' });
  for (let i = 0; i < 50; i++) {
    if (await answers(url, 200)) return child;
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new RedisUnavailableError(`redis-server could not be started on port ${u.port || 6379}; see ${join(dir, 'redis.log')}.`);
}

/**
 * The Redis prefix of `npm start` on its embedded database when REDIS_PREFIX is unset: one of its
 * own, made on first start and kept in `<dataDir>/redis-prefix`, so two copies with two data
 * directories share a Redis without sharing keys, and a fresh data directory starts clean.
 */
export function embeddedRedisPrefix(dataDir: string): string {
  const file = join(dataDir, 'redis-prefix');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  mkdirSync(dataDir, { recursive: true });
  const prefix = `promptlab-${randomBytes(4).toString('hex')}`;
  writeFileSync(file, `${prefix}\n`);
  return prefix;
}
