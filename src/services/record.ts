import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { AuditLog } from '../audit/log.js';
import { IdempotencyStore } from '../idempotency/store.js';
import { Ledger } from '../jobs/ledger.js';
import { Jobs } from '../jobs/service.js';
import { Projects } from '../projects/service.js';
import { Budgets } from '../spend/budgets.js';
import { UsageMeter } from '../usage/meter.js';
import type { ServiceOptions } from './types.js';

/** The services over Postgres alone: the job record, budgets, idempotency keys, usage, projects, the audit log. */
export const recordServices = fp<ServiceOptions>(async (app: FastifyInstance, { config, db, log }) => {
  const meter = new UsageMeter(db, log, config.USAGE_FLUSH_MS);
  Object.assign(app.svc, {
    jobs: new Jobs(db),
    ledger: new Ledger(db, config.WORKER_LOCK_DURATION_MS),
    budgets: new Budgets(db),
    idempotency: new IdempotencyStore(db),
    meter,
    projects: new Projects(db),
    audit: new AuditLog(db),
  });
  app.addHook('onClose', () => meter.close());
}, { name: 'record-services' });
