import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateKey } from './secret.js';

/**
 * The admin key: PROMPTLAB_ADMIN_KEY when set; otherwise the one kept in
 * `<dataDir>/admin-key`, generated (mode 0600) on first start. `created` tells
 * the caller to print it, once.
 */
export function resolveAdminKey(envKey: string | undefined, dataDir: string): { key: string; created: boolean; file?: string } {
  if (envKey) return { key: envKey, created: false };
  const file = join(dataDir, 'admin-key');
  if (existsSync(file)) return { key: readFileSync(file, 'utf8').trim(), created: false, file };
  mkdirSync(dataDir, { recursive: true });
  const key = generateKey();
  writeFileSync(file, `${key}\n`, { mode: 0o600 });
  return { key, created: true, file };
}
