import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { TIERS } from '../auth/caller.js';
import { PRIORITIES } from '../db/schema.js';
import { MODEL_PATTERN } from '../spend/model-pattern.js';
import { BudgetList, BudgetStatus, errorResponses, Id, periodsOnce } from './schemas.js';

const AllowedModels = Type.Array(Type.String({ pattern: MODEL_PATTERN, maxLength: 260 }), {
  maxItems: 100,
  description: '`provider/model` globs (`*` matches anything: `anthropic/claude-haiku-*`, `openai/*`, `*`); replaces the tier\'s list (MODELS_<TIER>)',
});

/** What every admin route shows of a key (never the key or its hash). */
const KeyFields = {
  id: Type.String(),
  name: Type.String(),
  tier: Type.Enum([...TIERS]),
  allowedModels: Type.Union([Type.Array(Type.String()), Type.Null()], { description: 'null: the tier\'s list' }),
  priority: Type.Union([Type.Enum([...PRIORITIES]), Type.Null()], { description: 'Queue class when a request names none; null: the tier\'s (PRIORITY_<TIER>)' }),
  budgets: Type.Array(BudgetStatus, { description: 'Each budget in its current period' }),
};
const ApiKey = Type.Object(KeyFields);
const CreatedKey = Type.Object({ ...KeyFields, key: Type.String({ description: 'Shown once; only its hash is kept' }) });

const CreateBody = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 200 }),
  tier: Type.Optional(Type.Enum([...TIERS], { default: 'pro' })),
  allowedModels: Type.Optional(AllowedModels),
  priority: Type.Optional(Type.Enum([...PRIORITIES], { description: 'Queue class when a request names none; default: the tier\'s' })),
  budgets: Type.Optional(BudgetList),
}, { additionalProperties: false });

const PatchBody = Type.Object({
  allowedModels: Type.Optional(Type.Union([AllowedModels, Type.Null()], { description: 'null: back to the tier\'s list' })),
  priority: Type.Optional(Type.Union([Type.Enum([...PRIORITIES]), Type.Null()], { description: 'null: back to the tier\'s class' })),
  budgets: Type.Optional(BudgetList),
}, { additionalProperties: false, minProperties: 1 });

const Params = Type.Object({ id: Id('key') });
const bodyErrors = ['bad_request', 'invalid_json', 'forbidden', 'payload_too_large', 'unsupported_media_type'] as const;

export default async function apiKeyRoutes(fastify: FastifyInstance) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['admin'];

  app.post('/v1/api-keys', {
    config: { admin: true },
    schema: {
      tags,
      summary: 'Create an API key (admin). The key is shown once; only its hash is kept.',
      body: CreateBody,
      response: { 201: CreatedKey, ...errorResponses(...bodyErrors) },
    },
  }, async (request, reply) => {
    const { name, tier, allowedModels, priority, budgets } = request.body;
    const key = await app.svc.apiKeys.create(name, tier ?? 'pro', allowedModels, priority);
    if (budgets) await app.svc.budgets.set('api_key', key.id, periodsOnce(budgets));
    return reply.code(201).send({ ...key, budgets: await app.svc.budgets.status('api_key', key.id) });
  });

  app.get('/v1/api-keys/:id', {
    config: { admin: true },
    schema: { tags, summary: 'Get an API key (admin)', params: Params, response: { 200: ApiKey, ...errorResponses('bad_request', 'forbidden', 'api_key_not_found') } },
  }, async (request) => ({ ...(await app.svc.apiKeys.get(request.params.id)), budgets: await app.svc.budgets.status('api_key', request.params.id) }));

  app.patch('/v1/api-keys/:id', {
    config: { admin: true },
    schema: {
      tags,
      summary: 'Change an API key (admin); every API process applies it at once',
      params: Params,
      body: PatchBody,
      response: { 200: ApiKey, ...errorResponses(...bodyErrors, 'api_key_not_found') },
    },
  }, async (request) => {
    const { budgets, ...patch } = request.body;
    const key = Object.keys(patch).length ? await app.svc.apiKeys.update(request.params.id, patch) : await app.svc.apiKeys.get(request.params.id);
    if (budgets) await app.svc.budgets.set('api_key', key.id, periodsOnce(budgets));
    return { ...key, budgets: await app.svc.budgets.status('api_key', key.id) };
  });
}
