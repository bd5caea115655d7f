import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RedisClient } from './client.js';

/**
 * Every Lua script of the project. Each file is named `name-N.lua`, N being
 * its number of KEYS, or `name-n.lua` when the caller passes the number of
 * keys first (as EVALSHA does); it opens with a contract header (see STYLE.md).
 */
export const SCRIPT_FILES: readonly URL[] = [
  new URL('../ratelimit/slidingWindow-n.lua', import.meta.url),
  new URL('../ratelimit/tokenWindow-n.lua', import.meta.url),
  new URL('../queue/fairAdmit-1.lua', import.meta.url),
  new URL('../queue/fairStart-1.lua', import.meta.url),
  new URL('../events/appendEvents-n.lua', import.meta.url),
];

export interface ScriptDef {
  name: string;
  /** undefined: any number, given by the caller. */
  numberOfKeys: number | undefined;
  lua: string;
}

export function readScript(file: URL): ScriptDef {
  const m = /^([A-Za-z]+)-(\d+|n)\.lua$/.exec(basename(fileURLToPath(file)));
  if (!m) throw new Error(`script file name must be name-N.lua or name-n.lua: ${file.href}`);
  return { name: m[1]!, numberOfKeys: m[2] === 'n' ? undefined : Number(m[2]), lua: readFileSync(file, 'utf8') };
}

let cached: ScriptDef[] | undefined;

/** Registers every script on the client with defineCommand (EVALSHA, EVAL on NOSCRIPT). */
export function defineScripts<T extends RedisClient>(redis: T): T {
  cached ??= SCRIPT_FILES.map(readScript);
  for (const s of cached) {
    if (!(s.name in redis)) redis.defineCommand(s.name, { numberOfKeys: s.numberOfKeys, lua: s.lua });
  }
  return redis;
}
