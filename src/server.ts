import { openRuntime, serveApi } from './boot.js';
import { requireDatabaseUrl, runEntry } from './entry.js';
import { createLogger } from './logger.js';

/** `npm run api`: the HTTP API alone; run workers with `npm run worker`. */
runEntry(async (config) => {
  requireDatabaseUrl(config, 'npm run api');
  const log = createLogger(config, 'api');
  await serveApi(await openRuntime(config, log), log);
});
