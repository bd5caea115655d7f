import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import pg from 'pg';
import pino from 'pino';
import { loadConfig, type Config } from '../src/config/index.js';
import { openDatabase, type Database } from '../src/db/client.js';
import { unlinkMatching } from '../src/redis/client.js';

const PG = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
export const silent = pino({ level: 'silent' });

async function admin(sql: string) {
  const c = new pg.Client({ connectionString: PG });
  await c.connect();
  try { await c.query(sql); } finally { await c.end(); }
}

/** A fresh migrated database and a Redis prefix for one benchmark run; `drop()` removes both. */
export async function benchWorld(env: Record<string, string> = {}): Promise<{ config: Config; database: Database; drop(): Promise<void> }> {
  const name = `pl_bench_${randomBytes(4).toString('hex')}`;
  await admin(`create database ${name}`);
  const u = new URL(PG);
  u.pathname = `/${name}`;
  const config = loadConfig({ DATABASE_URL: u.toString(), REDIS_URL, REDIS_PREFIX: name, LOG_LEVEL: 'silent', ...env });
  const database = await openDatabase({ url: config.DATABASE_URL, dataDir: '', poolSize: 20 });
  await database.migrate();
  return {
    config,
    database,
    async drop() {
      await database.close();
      await admin(`drop database if exists ${name} with (force)`);
      const r = new Redis(REDIS_URL);
      await unlinkMatching(r, `${name}:*`);
      r.disconnect();
    },
  };
}

/** Runs `fn(i)` for i in [0, n) with at most `concurrency` in flight. */
export async function pool(n: number, concurrency: number, fn: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, async () => {
    while (next < n) await fn(next++);
  }));
}

export const fmt = (n: number, d = 0) => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
