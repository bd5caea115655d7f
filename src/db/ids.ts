import { randomBytes } from 'node:crypto';

/**
 * `prefix_` + 16 random bytes in base64url: never all digits and never a `:`,
 * so the same id is also a valid BullMQ job id.
 */
export function newId(prefix: 'gen' | 'tpl' | 'key' | 'bat' | 'whs'): string {
  if (used + 16 > pool.length) {
    pool = randomBytes(POOL_BYTES); // one call for 256 ids: a call per id was ~1 % of a job's CPU (as crypto.randomUUID pools its entropy)
    used = 0;
  }
  used += 16;
  return `${prefix}_${pool.toString('base64url', used - 16, used)}`;
}

const POOL_BYTES = 16 * 256;
let pool = Buffer.alloc(0);
let used = 0;
