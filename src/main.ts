import { startWorker } from '../workers/worker.js';
import { openRuntime, serveApi } from './boot.js';
import { lockDataDir } from './db/data-dir-lock.js';
import { runEntry } from './entry.js';
import { createLogger } from './logger.js';
import { embeddedRedisPrefix, ensureRedis } from './redis/embedded.js';
import { stopChild } from './shutdown/stop-child.js';

/** `npm start`: API and worker in one process, on embedded defaults (PGlite, a spawned redis-server, the fake provider). */
runEntry(async (given) => {
  const config = given.DATABASE_URL || given.redisPrefixGiven ? given : { ...given, REDIS_PREFIX: embeddedRedisPrefix(given.PROMPTLAB_DATA_DIR) };
  const log = createLogger(config, 'promptlab');
  // PGlite is single-process: a second `npm start` on this data directory must not open it.
  const lock = config.DATABASE_URL ? undefined : lockDataDir(config.PROMPTLAB_DATA_DIR);
  const redisChild = await ensureRedis(config.REDIS_URL, config.PROMPTLAB_DATA_DIR);
  if (redisChild) log.info({ pid: redisChild.pid }, 'started redis-server under the data dir');
  const stopRedis = async () => { if (redisChild) await stopChild(redisChild); };
  try {
    const rt = await openRuntime(config, log);
    await serveApi(rt, log, {
      startWorker: (svc) => startWorker({ ...rt, svc, log }),
      after: async () => { await stopRedis(); lock?.release(); },
      redisSpawned: redisChild !== undefined,
      worker: 'in this process',
    });
  } catch (err) {
    await stopRedis();
    lock?.release();
    throw err;
  }
});
