import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { isProjectAdmin } from '../auth/caller.js';
import { AppError } from '../errors/app-error.js';
import { readRateLimit } from '../ratelimit/plugin.js';
import { errorResponses, Id } from './schemas.js';

const Attempt = Type.Object({
  messageId: Type.String({ description: 'The webhook-id header: the same on every attempt of one message' }),
  event: Type.String(),
  url: Type.String(),
  attempt: Type.Integer(),
  at: Type.String({ format: 'date-time' }),
  statusCode: Type.Union([Type.Integer(), Type.Null()]),
  durationMs: Type.Integer(),
  delivered: Type.Boolean(),
  error: Type.Union([Type.String(), Type.Null()]),
});

export default async function webhookRoutes(fastify: FastifyInstance) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();

  app.get('/v1/jobs/:id/webhooks', {
    config: { rateLimit: readRateLimit },
    schema: {
      tags: ['jobs'], summary: 'Webhook delivery attempts of a job, oldest first (a member\'s own; all of them for a project admin or the admin key)',
      params: Type.Object({ id: Id('gen') }),
      response: { 200: Type.Object({ data: Type.Array(Attempt) }), ...errorResponses('bad_request', 'job_not_found') },
    },
  }, async (request) => {
    const caller = request.caller!;
    await app.svc.jobs.get(request.params.id, caller);
    const rows = await app.svc.webhooks.attemptsOf(request.params.id);
    return {
      data: rows.filter((r) => isProjectAdmin(caller) || r.apiKeyId === caller.keyId).map((r) => ({
        messageId: r.messageId, event: r.event, url: r.url, attempt: r.attempt, at: r.at.toISOString(),
        statusCode: r.statusCode, durationMs: r.durationMs, delivered: r.delivered, error: r.error,
      })),
    };
  });

  app.post('/v1/api-keys/:id/webhook-secret', {
    schema: {
      tags: ['admin'],
      summary: 'Create or rotate a key\'s webhook signing secret (the key itself, its project\'s admins, or the admin key); shown once',
      description: 'Returns `{secret}` (`whsec_` + base64). Deliveries sign with the newest secret from then on; endpoints the key had disabled by a 410 are enabled again.',
      params: Type.Object({ id: Id('key') }),
      response: { 200: Type.Object({ secret: Type.String() }), ...errorResponses('bad_request', 'forbidden', 'project_not_found', 'api_key_not_found') },
    },
  }, async (request) => {
    const caller = request.caller!;
    if (caller.keyId !== request.params.id && !isProjectAdmin(caller)) throw new AppError('forbidden', 'A member key may rotate only its own webhook secret.');
    const key = await app.svc.apiKeys.get(request.params.id, caller); // another project's key: 404, as if absent
    const secret = await app.svc.webhooks.rotateSecret(key.id);
    await app.svc.audit.record(request, 'api_key.webhook_secret_rotated', key.id, key.projectId);
    return { secret };
  });
}
