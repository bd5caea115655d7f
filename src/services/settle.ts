import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { BatchProgress } from '../batches/progress.js';
import { AfterSettle } from '../jobs/after-settle.js';
import { Webhooks } from '../webhooks/service.js';
import type { ServiceOptions } from './types.js';

/**
 * What follows a generation's settlement: the one after-settle hook, with its listeners, the final
 * job event (unless an earlier run of the settlement announced it), the webhook messages and the
 * batches' progress.
 */
export const settleServices = fp<ServiceOptions>(async (app: FastifyInstance, { config, db, queues, log }) => {
  const { svc } = app;
  const webhooks = new Webhooks(db, svc.jobs, queues, config);
  const batchProgress = new BatchProgress(db, webhooks);
  const afterSettle = new AfterSettle(log)
    .on('events', async (s) => { if (!s.again) await svc.events.publish(s.id, s.status, { ...(s.attempt ? { attempt: s.attempt } : {}), ...(s.error ? { error: s.error } : {}) }); })
    .on('webhooks', (s) => webhooks.ended(s.id))
    .on('batches', (s) => batchProgress.ended(s.id));
  Object.assign(svc, { webhooks, batchProgress, afterSettle });
}, { name: 'settle-services', dependencies: ['record-services', 'redis-services'] });
