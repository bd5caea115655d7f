import { hash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * API keys carry 256 random bits, so a plain SHA-256 is the right hash: a slow
 * password hash buys nothing against brute force here and would cost every request.
 */
export const hashKey = (key: string): string => hash('sha256', key, 'hex');

/** The secret scanners' prefix of every key issued now (`pl_live_…`); keys issued before it (`pl_…`) keep working. */
export const KEY_PREFIX = 'pl_live_';
export const generateKey = (): string => `${KEY_PREFIX}${randomBytes(32).toString('base64url')}`;

/** The shape of every key generateKey() issues, now or before `pl_live_`: anything else is rejected without a lookup. */
export const ISSUED_KEY = /^pl_(live_)?[A-Za-z0-9_-]{43}$/;
/** How much of a secret a listing shows: the prefix and 4 characters of the random part. */
export const displayPrefix = (key: string): string => key.slice(0, key.startsWith(KEY_PREFIX) ? KEY_PREFIX.length + 4 : 7);

/** Hex hashes compared in constant time (Postgres found the row by index; this is the check that counts). */
export function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && timingSafeEqual(x, y);
}
