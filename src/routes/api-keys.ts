import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { TIERS } from '../auth/caller.js';
import { errorResponses } from './schemas.js';

export default async function apiKeyRoutes(fastify: FastifyInstance) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  app.post('/v1/api-keys', {
    config: { admin: true },
    schema: {
      tags: ['admin'],
      summary: 'Create an API key (admin). The key is shown once; only its hash is kept.',
      body: Type.Object({
        name: Type.String({ minLength: 1, maxLength: 200 }),
        tier: Type.Optional(Type.Enum([...TIERS], { default: 'pro' })),
      }, { additionalProperties: false }),
      response: {
        201: Type.Object({ id: Type.String(), key: Type.String(), name: Type.String(), tier: Type.Enum([...TIERS]) }),
        ...errorResponses('bad_request', 'invalid_json', 'forbidden', 'payload_too_large', 'unsupported_media_type'),
      },
    },
  }, async (request, reply) => {
    const { name, tier } = request.body;
    return reply.code(201).send(await app.svc.apiKeys.create(name, tier ?? 'pro'));
  });
}
