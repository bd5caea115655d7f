import Fastify, { type FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { apiServices } from './api.js';
import { recordServices } from './record.js';
import { redisServices } from './redis.js';
import { routingServices } from './routing.js';
import { settleServices } from './settle.js';
import type { Services, ServiceOptions } from './types.js';

export type { CoreServices, Services, ServiceOptions } from './types.js';

/**
 * Every service of a process as named Fastify plugins with their dependencies declared (record,
 * redis, routing, settle, then the API's), decorated as `app.svc`: the API registers it on its app, and
 * `npm start`'s worker uses that app's; a worker process builds it with `buildServices`.
 */
export const servicesPlugin = fp<ServiceOptions>(async (app: FastifyInstance, opts) => {
  app.decorate('svc', {} as Services);
  await app.register(recordServices, opts);
  await app.register(redisServices, opts);
  await app.register(routingServices, opts);
  await app.register(settleServices, opts);
  if (opts.role === 'api') await app.register(apiServices, opts);
}, { name: 'services' });

/** The services of a process without an HTTP API (a worker): the same plugins on a bare Fastify instance; `close()` stops them. */
export async function buildServices(opts: ServiceOptions): Promise<{ svc: Services; close(): Promise<void> }> {
  const app = Fastify({ loggerInstance: opts.log });
  await app.register(servicesPlugin, opts);
  await app.ready();
  return { svc: app.svc, close: () => app.close() };
}
