import { randomUUID } from 'node:crypto';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { RedisClient } from './redis/client.js';
import type { Logger } from 'pino';
import anthropicMessagesRoutes from './adapters/anthropic-messages/routes.js';
import openaiChatRoutes from './adapters/openai-chat/routes.js';
import openaiEmbeddingsRoutes from './adapters/openai-embeddings/routes.js';
import openaiResponsesRoutes from './adapters/openai-responses/routes.js';
import { authPlugin } from './auth/plugin.js';
import type { Config } from './config/index.js';
import { consolePlugin } from './console/plugin.js';
import bullBoard from './dashboard/bull-board.js';
import type { Database } from './db/client.js';
import { openApiPlugin } from './docs/openapi.js';
import { errorHandler } from './errors/handler.js';
import { frameworkErrors, inputGuard } from './http/input-guard.js';
import { BODY_LIMIT_BYTES } from './http/json-body.js';
import { rateLimitPlugin, trustProxyOption } from './ratelimit/plugin.js';
import { jobEventsPlugin } from './events/plugin.js';
import { RequestLog } from './logging/request-log.js';
import { metricsPlugin } from './metrics/plugin.js';
import type { ProviderRegistry } from './providers/registry.js';
import type { Queues } from './queue/queues.js';
import type { JobWaiter } from './queue/waiter.js';
import adminRoutes from './routes/admin.js';
import apiKeyRoutes from './routes/api-keys.js';
import auditRoutes from './routes/audit.js';
import batchRoutes from './routes/batches.js';
import generateRoutes from './routes/generate.js';
import healthRoutes from './routes/health.js';
import jobEventRoutes from './routes/job-events.js';
import jobRoutes from './routes/jobs.js';
import routingRoutes from './routes/routing.js';
import meRoutes from './routes/me.js';
import metricsRoutes from './routes/metrics.js';
import projectRoutes from './routes/projects.js';
import templateBudgetRoutes from './routes/template-budgets.js';
import templateRoutes from './routes/templates.js';
import usageRoutes from './routes/usage.js';
import webhookRoutes from './routes/webhooks.js';
import { servicesPlugin } from './services/index.js';
import { drainPlugin } from './shutdown/drain.js';
import { httpTracing } from './telemetry/http.js';

/** What the app is built from; the entry points open these, tests too. */
export interface AppDeps {
  config: Config;
  database: Database;
  redis: RedisClient;
  queues: Queues;
  waiter: JobWaiter;
  /** The providers of this deployment, built once at boot. */
  registry: ProviderRegistry;
  adminKey: string;
  /** A pino logger to use (the entry points pass theirs); default: pino at LOG_LEVEL. */
  logger?: Logger;
}

declare module 'fastify' {
  interface FastifyInstance {
    deps: AppDeps;
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
    bodyLimit: BODY_LIMIT_BYTES,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    logController: new RequestLog(),
    frameworkErrors,
    trustProxy: trustProxyOption(config),
    ...opts,
  });
  app.setValidatorCompiler(validators());
  app.removeContentTypeParser('text/plain'); // bodies are JSON; anything else is a 415
  // Hooks on every request take `done` rather than being async: no promise and no microtask each.
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id);
    done();
  });

  app.decorate('deps', deps);
  await app.register(httpTracing);
  await app.register(servicesPlugin, { ...deps, db: deps.database.db, log: app.log as unknown as Logger, role: 'api' });
  const { svc } = app;

  await app.register(errorHandler);
  await app.register(inputGuard);
  await app.register(drainPlugin);
  await app.register(metricsPlugin, { queues: [deps.queues.generation, deps.queues.deadLetter] });
  await app.register(openApiPlugin);
  await app.register(bullBoard, { queues: deps.queues, apiKeys: svc.apiKeys });
  await app.register(consolePlugin);
  await app.register(jobEventsPlugin, { events: svc.events, jobs: svc.jobs });
  // Auth, then the limiter (keyed on the caller), then the routes they guard.
  await app.register(authPlugin, { apiKeys: svc.apiKeys, projects: svc.projects, watch: svc.redisWatch });
  await app.register(rateLimitPlugin, { redis: deps.redis, config, watch: svc.redisWatch });
  await app.register(healthRoutes);
  await app.register(metricsRoutes);
  await app.register(projectRoutes);
  await app.register(meRoutes);
  await app.register(apiKeyRoutes);
  await app.register(auditRoutes);
  await app.register(templateRoutes);
  await app.register(templateBudgetRoutes);
  await app.register(generateRoutes);
  await app.register(openaiChatRoutes);
  await app.register(anthropicMessagesRoutes);
  await app.register(openaiResponsesRoutes);
  await app.register(openaiEmbeddingsRoutes);
  await app.register(jobRoutes);
  await app.register(routingRoutes);
  await app.register(jobEventRoutes);
  await app.register(batchRoutes);
  await app.register(webhookRoutes);
  await app.register(adminRoutes);
  await app.register(usageRoutes);
  return app;
}
