import { randomUUID } from 'node:crypto';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { ApiKeys } from './auth/keys.js';
import { authPlugin } from './auth/plugin.js';
import { InvalidationBus } from './cache/bus.js';
import { ResultCache } from './cache/result-cache.js';
import type { Config } from './config/index.js';
import type { Database } from './db/client.js';
import { errorHandler } from './errors/handler.js';
import { Generation } from './generation/service.js';
import { Ledger } from './jobs/ledger.js';
import { Jobs } from './jobs/service.js';
import { DeadLetters } from './queue/dead-letters.js';
import type { Queues } from './queue/queues.js';
import type { JobWaiter } from './queue/waiter.js';
import adminRoutes from './routes/admin.js';
import apiKeyRoutes from './routes/api-keys.js';
import generateRoutes from './routes/generate.js';
import healthRoutes from './routes/health.js';
import jobRoutes from './routes/jobs.js';
import templateRoutes from './routes/templates.js';
import { Templates } from './templates/service.js';

/** What the app is built from; the entry points open these, tests too. */
export interface AppDeps {
  config: Config;
  database: Database;
  redis: Redis;
  queues: Queues;
  waiter: JobWaiter;
  adminKey: string;
  /** A pino logger to use (the entry points pass theirs); default: pino at LOG_LEVEL. */
  logger?: Logger;
}

export interface Services {
  apiKeys: ApiKeys;
  templates: Templates;
  jobs: Jobs;
  cache: ResultCache;
  generation: Generation;
  deadLetters: DeadLetters;
}

declare module 'fastify' {
  interface FastifyInstance {
    deps: AppDeps;
    svc: Services;
  }
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * Validation: bodies are checked strictly (no type coercion, unknown fields
 * rejected rather than silently dropped); querystrings and params coerce
 * strings to the declared types, as HTTP requires.
 */
function validators() {
  const make = (coerceTypes: boolean) => {
    const ajv = new Ajv({ coerceTypes, useDefaults: true, removeAdditional: false, allErrors: false, strict: false });
    addFormats.default(ajv);
    return ajv;
  };
  const strict = make(false);
  const coercing = make(true);
  return ({ schema, httpPart }: { schema: object; httpPart?: string }) =>
    (httpPart === 'body' ? strict : coercing).compile(schema);
}

export async function buildApp(deps: AppDeps, opts: Partial<FastifyServerOptions> = {}): Promise<FastifyInstance> {
  const { config } = deps;
  const app = Fastify({
    ...(deps.logger ? { loggerInstance: deps.logger } : { logger: { level: config.LOG_LEVEL } }),
    bodyLimit: 1024 * 1024,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    ...opts,
  });
  app.setValidatorCompiler(validators());
  app.removeContentTypeParser('text/plain'); // bodies are JSON; anything else is a 415
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });

  const log = app.log as unknown as Logger;
  const db = deps.database.db;
  const bus = new InvalidationBus(deps.redis, config.REDIS_PREFIX, log);
  app.addHook('onClose', async () => bus.close());
  const templates = new Templates(db, bus);
  const jobs = new Jobs(db);
  const cache = new ResultCache(deps.redis, config.REDIS_PREFIX, log);
  const svc: Services = {
    apiKeys: new ApiKeys({ db, adminKey: deps.adminKey }),
    templates,
    jobs,
    cache,
    generation: new Generation({ config, db, templates, jobs, ledger: new Ledger(db), cache, queues: deps.queues, waiter: deps.waiter, log }),
    deadLetters: new DeadLetters(db, deps.queues),
  };
  app.decorate('deps', deps);
  app.decorate('svc', svc);

  await app.register(errorHandler);
  await app.register(authPlugin, { apiKeys: svc.apiKeys });
  await app.register(healthRoutes);
  await app.register(apiKeyRoutes);
  await app.register(templateRoutes);
  await app.register(generateRoutes);
  await app.register(jobRoutes);
  await app.register(adminRoutes);
  return app;
}
