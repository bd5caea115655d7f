import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { httpDuration, rateLimited, watchQueueDepth, type CountableQueue } from './registry.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** A long-lived response (Server-Sent Events): not timed by the HTTP histogram. */
    stream?: boolean;
  }
}

export interface MetricsPluginOptions {
  /** Queues whose depth by state `/metrics` reports, read at scrape time. */
  queues: CountableQueue[];
}

/**
 * Times every response into `promptlab_http_request_duration_seconds` by the
 * route as declared (never the raw URL, so the label set stays bounded),
 * counts 429 rate-limit rejections, and reports queue depth at scrape time.
 * Register it first so it sees every route; `/metrics` itself is a route in
 * `src/routes/metrics.ts`.
 */
export const metricsPlugin = fp<MetricsPluginOptions>(
  async (app: FastifyInstance, opts) => {
    const unwatch = watchQueueDepth(opts.queues);
    app.addHook('onClose', async () => unwatch());
    app.addHook('onResponse', (request, reply, done) => {
      if (!request.routeOptions.config.stream) {
        const route = request.routeOptions.url ?? 'unmatched';
        const status = reply.statusCode;
        httpDuration.observe({ method: request.method, route, status }, reply.elapsedTime / 1000);
        // 429 is rate_limited and nothing else in the error catalogue.
        if (status === 429) rateLimited.inc({ route, tier: request.caller?.tier ?? 'anonymous' });
      }
      done();
    });
  },
  { name: 'metrics', fastify: '5.x' },
);
