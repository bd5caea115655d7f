import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import pg from 'pg';
import { stopChild } from '../../src/shutdown/stop-child.js';
import { PG_ADMIN_URL } from './pg.js';
import { freePort } from './spawn.js';

/** Debian's pgbouncer lives in /usr/sbin, off a normal user's PATH; PGBOUNCER_PATH names another. */
function findPgBouncer(): string | undefined {
  if (process.env.PGBOUNCER_PATH) return existsSync(process.env.PGBOUNCER_PATH) ? process.env.PGBOUNCER_PATH : undefined;
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin', '/usr/bin'];
  return dirs.map((d) => join(d, 'pgbouncer')).find((p) => existsSync(p));
}

export const PGBOUNCER = findPgBouncer();

export const PGBOUNCER_MISSING = 'pgbouncer is not installed: the PgBouncer tests are skipped. Install it with `sudo apt-get install pgbouncer` (Debian/Ubuntu), or set PGBOUNCER_PATH to a pgbouncer binary.';

/**
 * PromptLab's pool asks for `statement_timeout` as a startup parameter (src/db/client.ts), which
 * PgBouncer refuses unless told to ignore it; the same timeout is then set on each server connection.
 */
export const PROMPTLAB_STATEMENT_TIMEOUT_MS = 10_000;

/**
 * What PromptLab needs of a transaction-mode PgBouncer beyond the defaults: it accepts the pool's
 * `statement_timeout` startup parameter, which its `connect_query` sets on each server connection
 * instead (docs/operations.md, "Postgres at scale"). Migrations take a session lock only when there is something
 * to apply, through DATABASE_DIRECT_URL when set (src/db/client.ts): no reset query is needed.
 */
export const PROMPTLAB_PGBOUNCER_SETTINGS = ['ignore_startup_parameters = statement_timeout'];

export interface PgBouncerOptions {
  /** Server connections per database. @defaultValue 20 */
  poolSize?: number;
}

export interface PgBouncer {
  /** PromptLab's DATABASE_URL through the pooler: `postgres://<user>@127.0.0.1:<port>/<database>`. */
  url: string;
  port: number;
  /** Its process id (for its CPU time in /proc). */
  pid: number;
  /** A `SHOW <what>` of PgBouncer's admin console (`STATS`, `POOLS`, …), as rows. */
  show(what: string): Promise<Record<string, string>[]>;
  /** What PgBouncer logged so far (it runs in the foreground, logging to stderr). */
  output(): string;
  /** Stops it (SIGTERM, SIGKILL after 3 s) and removes its directory. */
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();
const killAll = () => { for (const c of running) c.kill('SIGKILL'); };

/** PgBouncer refuses to run as root: as root, it is started with `-u` as this user, else as whoever runs the tests. */
function unprivilegedUser(): string | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const users = readFileSync('/etc/passwd', 'utf8').split('\n').map((l) => l.split(':')[0]);
  return users.includes('postgres') ? 'postgres' : 'nobody';
}

/**
 * Starts PgBouncer in transaction mode on 127.0.0.1 and a free port, in front of `database` on the
 * tests' Postgres (TEST_PG_URL), with trust auth, its files in a temporary directory; resolves once
 * it listens. Killed with the test process if the test forgets it.
 */
export async function startPgBouncer(database: string, opts: PgBouncerOptions = {}): Promise<PgBouncer> {
  if (!PGBOUNCER) throw new Error(PGBOUNCER_MISSING);
  for (let attempt = 1; ; attempt++) {
    try {
      return await launch(PGBOUNCER, database, await freePort(), opts.poolSize ?? 20, PROMPTLAB_PGBOUNCER_SETTINGS);
    } catch (err) {
      if (attempt === 3) throw err; // a free port can be taken before PgBouncer binds it
    }
  }
}

async function launch(bin: string, database: string, port: number, poolSize: number, settings: string[]): Promise<PgBouncer> {
  const upstream = new URL(PG_ADMIN_URL);
  const user = decodeURIComponent(upstream.username || 'postgres');
  const dir = mkdtempSync(join(tmpdir(), 'pl-pgbouncer-'));
  const server = [`host=${upstream.hostname}`, `port=${upstream.port || 5432}`, `dbname=${database}`,
    ...(upstream.password ? [`password=${decodeURIComponent(upstream.password)}`] : []),
    `connect_query='SET statement_timeout = ${PROMPTLAB_STATEMENT_TIMEOUT_MS}'`].join(' ');
  writeFileSync(join(dir, 'userlist.txt'), `"${user}" ""\n`, { mode: 0o644 });
  writeFileSync(join(dir, 'pgbouncer.ini'), [
    '[databases]',
    `${database} = ${server}`,
    '[pgbouncer]',
    'listen_addr = 127.0.0.1',
    `listen_port = ${port}`,
    'unix_socket_dir =',
    'auth_type = trust',
    `auth_file = ${join(dir, 'userlist.txt')}`,
    `admin_users = ${user}`,
    'pool_mode = transaction',
    `default_pool_size = ${poolSize}`,
    'max_client_conn = 500',
    ...settings,
    '',
  ].join('\n'), { mode: 0o644 });
  await chmod(dir, 0o755); // readable by the user it drops to when started as root
  const as = unprivilegedUser();
  const child = spawn(bin, [...(as ? ['-u', as] : []), join(dir, 'pgbouncer.ini')], { stdio: ['ignore', 'pipe', 'pipe'] });
  if (running.size === 0) process.on('exit', killAll);
  running.add(child);
  child.once('exit', () => {
    running.delete(child);
    if (running.size === 0) process.off('exit', killAll);
  });
  let out = '';
  const onData = (b: Buffer) => (out += b.toString());
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => done(new Error(`pgbouncer on ${port} not listening after 5 s`)), 5000);
      const check = () => { if (out.includes(`listening on 127.0.0.1:${port}`)) done(); };
      const onExit = () => done(new Error(`pgbouncer on ${port} exited at start`));
      const done = (err?: Error) => {
        clearTimeout(timer);
        child.stderr!.off('data', check);
        child.stdout!.off('data', check);
        child.off('exit', onExit);
        child.off('error', done);
        if (err) reject(new Error(`${err.message}:\n${out}`));
        else resolve();
      };
      child.stderr!.on('data', check);
      child.stdout!.on('data', check);
      child.once('exit', onExit);
      child.once('error', done);
      check();
    });
  } catch (err) {
    await stopChild(child, 'SIGKILL', 1000);
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const base = `postgres://${encodeURIComponent(user)}@127.0.0.1:${port}`;
  return {
    url: `${base}/${database}`,
    port,
    pid: child.pid!,
    output: () => out,
    async show(what) {
      const client = new pg.Client({ connectionString: `${base}/pgbouncer` });
      await client.connect();
      try {
        return (await client.query(`SHOW ${what}`)).rows;
      } finally {
        await client.end();
      }
    },
    async stop() {
      await stopChild(child, 'SIGTERM', 3000);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
