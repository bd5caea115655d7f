import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { Routing } from '../routing/service.js';
import type { ServiceOptions } from './types.js';

/**
 * The routing document (model groups, failover, outbound limits), loaded before anything admits
 * or runs a job: an invalid ROUTES_FILE stops the boot with a ConfigError naming its problem.
 */
export const routingServices = fp<ServiceOptions>(async (app: FastifyInstance, { config, registry, db, redis, log }) => {
  const routing = new Routing({ config, registry, db, redis, bus: app.svc.bus, log });
  await routing.boot();
  app.addHook('onClose', async () => routing.close());
  Object.assign(app.svc, { routing });
}, { name: 'routing-services', dependencies: ['redis-services'] });
