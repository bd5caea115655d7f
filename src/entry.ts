import { existsSync } from 'node:fs';
import { ConfigError, loadConfig, type Config } from './config/index.js';
import { DataDirLockedError } from './db/data-dir-lock.js';
import { RedisUnavailableError } from './redis/embedded.js';
import { PrefixInUseError } from './redis/owner.js';

/** A boot failure the user can fix from one line: said as that line, without a stack trace. */
function knownMessage(err: unknown, config: Config): string | undefined {
  if (err instanceof ConfigError || err instanceof RedisUnavailableError || err instanceof DataDirLockedError || err instanceof PrefixInUseError) return err.message;
  const e = err as NodeJS.ErrnoException;
  if (e?.code === 'EADDRINUSE') return `port ${config.PORT} on ${config.HOST} is already in use (another PromptLab, or another server): stop it, or set PORT to a free port.`;
  if (e?.code === 'EACCES' && /listen/.test(e.message)) return `not allowed to listen on port ${config.PORT}: use a port above 1023 (PORT).`;
  return undefined;
}

/**
 * Loads `.env` from the working directory when there is one (variables already set win;
 * `PROMPTLAB_ENV_FILE` names another file, or none when empty),
 * parses the config once, runs `main`, and turns a boot failure into one readable message
 * and exit code 1.
 */
export function runEntry(main: (config: Config) => Promise<void>): void {
  let config: Config;
  try {
    const envFile = process.env.PROMPTLAB_ENV_FILE ?? '.env';
    if (envFile && existsSync(envFile)) process.loadEnvFile(envFile);
    config = loadConfig();
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(1);
  }
  main(config).catch((err: unknown) => {
    process.stderr.write(`promptlab: ${knownMessage(err, config) ?? (err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
}

export function requireDatabaseUrl(config: Config, what: string): void {
  if (!config.DATABASE_URL) {
    throw new ConfigError(`DATABASE_URL is required for ${what}: the embedded PGlite database can only be opened by one process, so it serves \`npm start\` (API and worker in one process) only.`);
  }
}
