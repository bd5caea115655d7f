import { mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { PROJECT_ROOT } from '../util/project-root.js';
import { sql } from 'drizzle-orm';
import * as schema from './schema.js';
import { preparesOn } from './prepared.js';

export type Db = PgDatabase<PgQueryResultHKT, typeof schema>;

/** A URL with its password hidden. */
export function withoutPassword(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparsable URL)';
  }
}

/** The rows of a `db.execute` result (node-postgres and PGlite both answer `{ rows }`). */
export const rowsOf = <T>(res: unknown): T[] => (res as { rows: T[] }).rows;

export interface Database {
  db: Db;
  /** `postgres` for a server, `pglite` for the embedded one. */
  kind: 'postgres' | 'pglite';
  /** Applies pending migrations (serialised across processes by an advisory lock). */
  migrate(): Promise<void>;
  /** Cheap liveness probe for /ready. */
  ping(): Promise<void>;
  /** Where it is, for people: the URL without its password, or the embedded database's directory. */
  readonly where: string;
  close(): Promise<void>;
}

/**
 * This database's identity: its server's system identifier (random, made by initdb; a restored
 * copy on another server differs) and its name (a copy on the same server differs), and where it
 * is. The same database reached at another address is the same.
 */
export async function identityOf(database: Database): Promise<{ id: string; where: string }> {
  const [row] = rowsOf<{ id: string }>(await database.db.execute(sql`select system_identifier::text || '/' || current_database() as id from pg_control_system()`));
  return { id: row!.id, where: database.where };
}

const MIGRATIONS = join(PROJECT_ROOT, 'migrations');
const MIGRATION_LOCK = 0x70726f6d; // "prom": one number every PromptLab process agrees on

/**
 * Opens Postgres at `url`, or the embedded PGlite under `dataDir` when `url` is
 * unset. Both speak the same drizzle schema and run the same migrations.
 */
/** Whether the journal holds a migration newer than the last one applied (drizzle compares `when` with `created_at`). */
async function pendingMigrations(client: { query(q: string): Promise<{ rows: { last: string | null }[] }> }): Promise<boolean> {
  const journal = JSON.parse(readFileSync(join(MIGRATIONS, 'meta', '_journal.json'), 'utf8')) as { entries: { when: number }[] };
  const newest = Math.max(...journal.entries.map((e) => e.when));
  try {
    const { rows } = await client.query('select max(created_at)::text as last from drizzle.__drizzle_migrations');
    return rows[0]?.last == null || Number(rows[0].last) < newest;
  } catch {
    return true; // no migrations table yet
  }
}

export async function openDatabase(opts: { url?: string | undefined; directUrl?: string | undefined; dataDir: string; poolSize?: number }): Promise<Database> {
  if (opts.url) {
    const { default: pg } = await import('pg');
    const { drizzle } = await import('drizzle-orm/node-postgres');
    const { migrate } = await import('drizzle-orm/node-postgres/migrator');
    // Nothing waits forever on a Postgres that vanished without closing its sockets: a connection (or a free
    // pool slot) within 5 s, a statement within 10 s on the server, an answer within 15 s on the client.
    const pool = new pg.Pool({
      connectionString: opts.url, max: opts.poolSize ?? 10, connectionTimeoutMillis: 5000, keepAlive: true,
      statement_timeout: 10_000, query_timeout: 15_000,
    });
    pool.on('error', () => {}); // an idle client dropped by the server; the next query reconnects
    const db = drizzle(pool, { schema });
    preparesOn(db, pool);
    return {
      db,
      kind: 'postgres',
      where: withoutPassword(opts.url),
      async migrate() {
        // Its own client, without the pool's timeouts: the lock may rightly wait for another process's migration.
        // `directUrl` (DATABASE_DIRECT_URL) bypasses a PgBouncer: a session lock needs a session.
        const client = new pg.Client({ connectionString: opts.directUrl ?? opts.url });
        await client.connect();
        try {
          // Most boots have nothing to apply: they take no lock, so a pooler in transaction mode never
          // keeps one on a server connection after this client is gone.
          if (!(await pendingMigrations(client))) return;
          await client.query('select pg_advisory_lock($1)', [MIGRATION_LOCK]);
          await migrate(drizzle(client, { schema }), { migrationsFolder: MIGRATIONS });
        } finally {
          await client.end().catch(() => {}); // ending the session releases the lock
        }
      },
      async ping() { await pool.query('select 1'); },
      close: () => pool.end(),
    };
  }
  const { PGlite } = await import('@electric-sql/pglite');
  const { drizzle } = await import('drizzle-orm/pglite');
  const { migrate } = await import('drizzle-orm/pglite/migrator');
  const dir = join(opts.dataDir, 'pglite');
  mkdirSync(dir, { recursive: true });
  const client = new PGlite(dir);
  const db = drizzle(client, { schema });
  return {
    db: db as unknown as Db,
    kind: 'pglite',
    where: `embedded PGlite in ${resolve(dir)}`,
    migrate: () => migrate(db, { migrationsFolder: MIGRATIONS }),
    async ping() { await client.query('select 1'); },
    close: () => client.close(),
  };
}
