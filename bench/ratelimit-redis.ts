/**
 * `npm run bench:ratelimit-redis`: Redis's cost of one rate-limit check, in
 * CPU instructions, counted by valgrind (callgrind) so that the figure does
 * not move with the machine's load. Each store, (a) @fastify/rate-limit's
 * built-in RedisStore and (b) ours, checks 50 keys in turn against its own
 * redis-server run under callgrind, with every check admitted and, once
 * warm, one entry leaving our window per check (the steady state of
 * `bench:ratelimit`). Ours sends the checks of one event-loop turn as one
 * script run, so it runs with 1, 5 (about what `bench:ratelimit` sees) and 50
 * checks issued per turn; the built-in store runs one script per check
 * whatever the grouping. A PING shows the floor of any command. Needs
 * `valgrind` and `redis-server` on the PATH.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyRateLimitStore } from '@fastify/rate-limit';
import { Redis } from 'ioredis';
import { defineScripts } from '../src/redis/scripts.js';
import { SlidingWindowStore } from '../src/ratelimit/store.js';

type RedisStoreCtor = new (continueExceeding: boolean, exponentialBackoff: boolean, redis: Redis, key: string) => FastifyRateLimitStore;
const RedisStore = createRequire(import.meta.url)('@fastify/rate-limit/store/RedisStore.js') as RedisStoreCtor;

const KEYS = 50;
const WINDOW_MS = 200;
const LIMIT = 1_000_000;
const CHECKS = 5_000;

interface Case { perTurn: number; make: (redis: Redis) => (key: string) => Promise<unknown> }
const ours: Case['make'] = (redis) => promisify(new SlidingWindowStore({ redis: defineScripts(redis), prefix: 'bench:sw:', timeoutMs: 10_000 }));
const CASES: Record<string, Case> = {
  'PING (floor of any command)': { perTurn: KEYS, make: (redis) => () => redis.ping() },
  'built-in fixed window': { perTurn: KEYS, make: (redis) => promisify(new RedisStore(false, false, redis, 'bench:fixed:')) },
  'ours, 1 check per run': { perTurn: 1, make: ours },
  'ours, 5 checks per run': { perTurn: 5, make: ours },
  'ours, 50 checks per run': { perTurn: 50, make: ours },
};

function promisify(store: FastifyRateLimitStore): (key: string) => Promise<unknown> {
  return (key) => new Promise((resolve, reject) => store.incr(key, (err, res) => (err ? reject(err) : resolve(res)), WINDOW_MS, LIMIT));
}

/** Runs `checks` checks over the keys in turn, `perTurn` issued together, and a 1 ms pause after each round of the keys. */
async function load(check: (key: string) => Promise<unknown>, checks: number, perTurn: number): Promise<void> {
  for (let done = 0; done < checks; done += perTurn) {
    await Promise.all(Array.from({ length: perTurn }, (_, i) => check(`k${(done + i) % KEYS}`)));
    if ((done + perTurn) % KEYS === 0) await sleep(1);
  }
}

async function instructionsPerCheck(port: number, { perTurn, make }: Case): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'promptlab-callgrind-'));
  const server = spawn('valgrind', ['--tool=callgrind', `--callgrind-out-file=${dir}/out`, 'redis-server', '--port', String(port), '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  try {
    while (!ping(port)) await sleep(200);
    const redis = new Redis({ port });
    const check = make(redis);
    await load(check, CHECKS / 2, perTurn);
    await sleep(WINDOW_MS * 2); // the first entries leave: from here each check pops about one
    await load(check, CHECKS / 2, perTurn);
    execFileSync('callgrind_control', ['--zero', String(server.pid)], { stdio: 'ignore' });
    await load(check, CHECKS, perTurn);
    execFileSync('callgrind_control', ['--dump', String(server.pid)], { stdio: 'ignore' });
    redis.disconnect();
    const dump = readdirSync(dir).filter((f) => f.startsWith('out.')).sort().at(-1)!;
    return Number(/^summary: (\d+)/m.exec(readFileSync(join(dir, dump), 'utf8'))![1]) / CHECKS;
  } finally {
    server.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

function ping(port: number): boolean {
  try {
    return execFileSync('redis-cli', ['-p', String(port), 'PING'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().includes('PONG');
  } catch {
    return false;
  }
}

try {
  execFileSync('valgrind', ['--version'], { stdio: 'ignore' });
} catch {
  console.error('bench:ratelimit-redis needs valgrind (apt-get install valgrind)');
  process.exit(1);
}
console.log(`Redis instructions per check (callgrind), ${CHECKS} checks over ${KEYS} keys, window ${WINDOW_MS} ms, all admitted\n`);
const rows: [string, number][] = [];
let port = 6480;
for (const [name, c] of Object.entries(CASES)) rows.push([name, await instructionsPerCheck(port++, c)]);
const fixed = rows[1]![1];
for (const [name, ir] of rows) console.log(`${name.padEnd(30)} ${Math.round(ir).toLocaleString('en-US').padStart(8)}   ${(ir / fixed).toFixed(2)}× built-in`);
