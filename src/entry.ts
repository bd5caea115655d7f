import { ConfigError, loadConfig, type Config } from './config/index.js';
import { RedisUnavailableError } from './redis/embedded.js';

/** Parses the config once, runs `main`, and turns a boot failure into one readable message and exit code 1. */
export function runEntry(main: (config: Config) => Promise<void>): void {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(1);
  }
  main(config).catch((err: unknown) => {
    const known = err instanceof ConfigError || err instanceof RedisUnavailableError;
    process.stderr.write(`promptlab: ${known ? (err as Error).message : ((err as Error).stack ?? String(err))}\n`);
    process.exit(1);
  });
}

export function requireDatabaseUrl(config: Config, what: string): void {
  if (!config.DATABASE_URL) {
    throw new ConfigError(`DATABASE_URL is required for ${what}: the embedded PGlite database can only be opened by one process, so it serves \`npm start\` (API and worker in one process) only.`);
  }
}
