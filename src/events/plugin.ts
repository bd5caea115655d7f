import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Jobs } from '../jobs/service.js';
import type { JobEventLog } from './job-events.js';
import { JobStreams } from './sse.js';
import { JobEventTail } from './tail.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** Serves GET /v1/jobs/:id/events. */
    jobStreams: JobStreams;
  }
}

export interface JobEventsPluginOptions {
  events: JobEventLog;
  jobs: Pick<Jobs, 'get'>;
  /** @defaultValue 15000 */
  heartbeatMs?: number;
}

/**
 * Job event streams for SSE clients: one blocking reader (its own Redis
 * connection) per process. Open streams end before the server closes
 * (`preClose`), so a graceful shutdown is not held up by clients that
 * would never leave; they reconnect to another process with Last-Event-ID.
 */
export const jobEventsPlugin = fp<JobEventsPluginOptions>(
  async (app: FastifyInstance, opts) => {
    const tail = new JobEventTail(app.deps.config, opts.events, app.deps.redis, app.log as never);
    const streams = new JobStreams({ events: opts.events, tail, jobs: opts.jobs, ...(opts.heartbeatMs ? { heartbeatMs: opts.heartbeatMs } : {}) });
    app.decorate('jobStreams', streams);
    app.addHook('preClose', async () => streams.closeAll());
    app.addHook('onClose', async () => tail.close());
  },
  { name: 'job-events', fastify: '5.x' },
);
