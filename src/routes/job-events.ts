import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { readRateLimit } from '../ratelimit/plugin.js';
import { errorResponses, Id } from './schemas.js';

const STREAM = `Server-Sent Events, one per status change, each with \`id:\` (resume with \`Last-Event-ID\`), \`event:\` and JSON \`data:\`:

- \`queued\` \`{jobId, status}\` (with \`replay: true\` when a dead job was replayed)
- \`active\` \`{jobId, status, attempt}\`
- \`retrying\` \`{jobId, status: "failed", attempt, error: {code, message}}\`: an attempt failed, another is scheduled
- \`completed\` \`{jobId, status, attempts, result, usage, costUsd}\`, then the stream ends
- \`dead\` \`{jobId, status, attempts, error, usage?, costUsd?}\`, then the stream ends

Without \`Last-Event-ID\` a client gets the job's events so far, then live ones; a job that already ended sends its final event at once. Comments (\`: ping\`) keep idle connections open.`;

export default async function jobEventRoutes(fastify: FastifyInstance) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  app.get('/v1/jobs/:id/events', {
    config: { stream: true, rateLimit: readRateLimit },
    schema: {
      tags: ['jobs'],
      summary: 'Live status of a job as Server-Sent Events, ending when the job ends',
      params: Type.Object({ id: Id('gen') }),
      querystring: Type.Object({
        lastEventId: Type.Optional(Type.String({ maxLength: 64, description: 'Same as the Last-Event-ID header, for clients that cannot set headers' })),
      }, { additionalProperties: false }),
      headers: Type.Object({ 'last-event-id': Type.Optional(Type.String({ maxLength: 64, description: 'Resume after this event id' })) }),
      response: {
        200: { description: STREAM, content: { 'text/event-stream': { schema: Type.String() } } },
        204: { description: 'The client already has the final event (reconnect after the end): an EventSource stops here', type: 'null' },
        ...errorResponses('bad_request', 'job_not_found'),
      },
    },
  }, async (request, reply) => {
    await app.jobStreams.serve(request, reply, request.params.id, request.headers['last-event-id'] ?? request.query.lastEventId);
  });
}
