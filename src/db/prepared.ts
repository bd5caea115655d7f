import { createHash } from 'node:crypto';
import type { SQL } from 'drizzle-orm';
import { PgDialect } from 'drizzle-orm/pg-core';

/** What runs a named statement: a node-postgres pool. */
interface Pool {
  query(config: { name: string; text: string; values: unknown[] }): Promise<{ rows: unknown[] }>;
}

/** A drizzle database (or transaction): what runs a statement unnamed. */
interface Db {
  execute(query: SQL): PromiseLike<unknown>;
}

const dialect = new PgDialect();
const pools = new WeakMap<object, Pool>();
/** One name per statement text, from its hash: a pooler mixing processes' connections never finds a name bound to another text. */
const names = new Map<string, string>();
/** Errors of a pooler that does not keep named statements (PgBouncer before 1.21 in transaction mode): 26000, 42P05. */
const NOT_KEPT = new Set(['26000', '42P05']);

/** The hot statements of `db` run as named prepared statements of `pool` (openDatabase, on a Postgres server). */
export function preparesOn(db: Db, pool: Pool): void {
  pools.set(db, pool);
}

/**
 * Runs one of the hot statements whose planning costs more than running it (the admission's and
 * the completion's unnest of many arrays) as a named prepared statement: Postgres parses and plans
 * it once per connection instead of on every call (`npm run bench:statements`: the admission 0.93
 * to 0.50 ms p50, the completion 1.07 to 0.67; the claim, whose generic plan runs slower, stays
 * unnamed). On PGlite, or once a pooler that routes a connection's statements to another server
 * connection said so (PgBouncer before 1.21 in transaction mode: `prepared statement does not
 * exist`, `already exists`), the statement runs unnamed, as every other statement does; a failed
 * Parse or Bind ran nothing, so running it again is safe.
 */
export async function executeNamed(db: Db, name: string, query: SQL): Promise<{ rows: unknown[] }> {
  const pool = pools.get(db);
  if (!pool) return db.execute(query) as Promise<{ rows: unknown[] }>;
  const { sql: text, params } = dialect.sqlToQuery(query);
  let named = names.get(text);
  if (!named) names.set(text, (named = `pl_${name}_${createHash('sha256').update(text).digest('hex').slice(0, 16)}`));
  try {
    return await pool.query({ name: named, text, values: params });
  } catch (err) {
    if (!NOT_KEPT.has((err as { code?: string }).code ?? '')) throw err;
    pools.delete(db);
    return db.execute(query) as Promise<{ rows: unknown[] }>;
  }
}
