/**
 * What `Retry-After` a 503 `service_unavailable` asks for, in seconds: long
 * enough not to hammer a database that is restarting or failing over, short
 * enough that clients notice it is back within a few seconds.
 */
export const UNAVAILABLE_RETRY_AFTER_S = 5;

/** Socket-level failures (Node's `err.code`): the server could not be reached or dropped us. */
const SOCKET_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN',
]);

/**
 * SQLSTATEs that mean "no usable connection": 57P01–57P03 (admin shutdown,
 * crash shutdown, cannot connect now) and 53300 (too many connections).
 * Class 08 (connection exception) is matched by its prefix.
 */
const SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300']);

/** node-postgres and pg-pool raise these as plain Errors, without a code. */
const MESSAGES = [
  /^Connection terminated/, // unexpectedly, due to connection timeout, or while ending
  /^timeout exceeded when trying to connect$/, // pg-pool: connectionTimeoutMillis
  /^Query read timeout$/, // query_timeout
  /is not queryable$/, // a client whose connection already failed
  /^Cannot use a pool after calling end on the pool$/, // shutting down
];

/**
 * Whether `err` means a backing service (Postgres) could not be reached, as
 * opposed to a query it refused: the difference between a 503 worth retrying
 * and a 500 worth a bug report. Follows `cause` (drizzle wraps driver errors
 * in a DrizzleQueryError) and AggregateError's `errors` (Node's connect tries
 * every address of a host).
 */
export function isConnectivityError(err: unknown, depth = 0): boolean {
  if (!(err instanceof Error) || depth > 5) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (SOCKET_CODES.has(code) || SQLSTATES.has(code) || /^08[0-9A-Z]{3}$/.test(code)) return true;
  }
  if (MESSAGES.some((m) => m.test(err.message))) return true;
  if (err instanceof AggregateError && err.errors.some((e) => isConnectivityError(e, depth + 1))) return true;
  return isConnectivityError(err.cause, depth + 1);
}
