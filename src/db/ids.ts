import { randomBytes } from 'node:crypto';

/**
 * `prefix_` + 16 random bytes in base64url: never all digits and never a `:`,
 * so the same id is also a valid BullMQ job id.
 */
export function newId(prefix: 'gen' | 'tpl' | 'key' | 'bat' | 'whs'): string {
  return `${prefix}_${randomBytes(16).toString('base64url')}`;
}
