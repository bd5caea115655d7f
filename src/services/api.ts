import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { ApiKeys } from '../auth/keys.js';
import { Batches } from '../batches/service.js';
import { Embeddings } from '../embeddings/service.js';
import { Generation } from '../generation/service.js';
import { JobCancels } from '../jobs/job-cancels.js';
import { DeadLetters } from '../queue/dead-letters.js';
import { Templates } from '../templates/service.js';
import type { ServiceOptions } from './types.js';

/** The API's own services: keys, templates, admission, embeddings, cancels, replays, batches. */
export const apiServices = fp<ServiceOptions>(async (app: FastifyInstance, { config, registry, db, redis, queues, waiter, adminKey, log }) => {
  const { svc } = app;
  const templates = new Templates(db, svc.bus, config.CACHE_LOCAL_TTL_MS, registry);
  const generation = new Generation({
    config, registry, templates, jobs: svc.jobs, ledger: svc.ledger, budgets: svc.budgets, tokens: svc.tokens, cache: svc.cache,
    queues, waiter: waiter!, meter: svc.meter, log, events: svc.events, fairness: svc.fairness,
  });
  const apiKeys = new ApiKeys({ db, adminKey: adminKey!, bus: svc.bus });
  app.addHook('onClose', async () => apiKeys.close());
  Object.assign(svc, {
    templates,
    apiKeys,
    generation,
    embeddings: new Embeddings({ config, cache: svc.cache, generation, jobs: svc.jobs, meter: svc.meter, log }),
    cancels: new JobCancels({ ledger: svc.ledger, jobs: svc.jobs, queues, redis, prefix: config.REDIS_PREFIX, log, tokens: svc.tokens, afterSettle: svc.afterSettle }),
    deadLetters: new DeadLetters(svc.ledger, queues, svc.events),
    batches: new Batches({
      config, registry, db, jobs: svc.jobs, templates, ledger: svc.ledger, budgets: svc.budgets, queues, meter: svc.meter, webhooks: svc.webhooks,
      fairness: svc.fairness, tokens: svc.tokens, afterSettle: svc.afterSettle, progress: svc.batchProgress, log,
    }),
  });
}, { name: 'api-services', dependencies: ['record-services', 'redis-services', 'settle-services'] });
