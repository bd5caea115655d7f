import type { RedisClient } from './client.js';
import { redisKeys } from './keys.js';

/** The database a process runs on: its identity (server and name, see `identityOf`) and where it is, for people. */
export interface DatabaseIdentity {
  id: string;
  /** The URL without its password, or where the embedded database lives. */
  where: string;
}

/** A second PromptLab on another database reached for a Redis prefix the first one owns. */
export class PrefixInUseError extends Error {
  override name = 'PrefixInUseError';
}

/** The key under which a prefix's owner is recorded. */
export const ownerKey = (prefix: string) => redisKeys(prefix).owner;

/**
 * Claims `prefix` for the database `db`, or checks that it already belongs to it. Two PromptLabs
 * on two databases sharing one prefix would take each other's jobs (a worker finds no row for a job
 * the other admitted) and serve each other's cache, so the second one refuses to start. The claim
 * is kept for good: deleting the key hands the prefix on, e.g. after the database was dropped.
 */
export async function claimPrefix(redis: RedisClient, prefix: string, db: DatabaseIdentity): Promise<void> {
  const key = ownerKey(prefix);
  const mine = JSON.stringify(db);
  if ((await redis.set(key, mine, 'NX')) === 'OK') return;
  const raw = await redis.get(key);
  let theirs: Partial<DatabaseIdentity> = {};
  try {
    theirs = JSON.parse(raw ?? '{}') as Partial<DatabaseIdentity>;
  } catch {
    // Not ours to read: treated as another owner below.
  }
  if (theirs.id === db.id) {
    if (theirs.where !== db.where) await redis.set(key, mine); // the same database, reached at another address
    return;
  }
  throw new PrefixInUseError(
    `REDIS_PREFIX=${prefix} is already used by a PromptLab on another database (${theirs.where ?? 'unknown'}), and this one is on ${db.where}: `
    + `give each its own REDIS_PREFIX (or its own Redis); if that database is gone for good, release the prefix with \`redis-cli DEL ${key}\`.`,
  );
}
