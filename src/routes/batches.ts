import { Readable } from 'node:stream';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from 'typebox';
import { BATCH_MAX_ITEMS } from '../batches/service.js';
import { ChatCompletionBody } from '../adapters/openai-chat/schema.js';
import { readRateLimit } from '../ratelimit/plugin.js';
import { idempotently } from '../idempotency/request.js';
import { errorResponses, Id, IdempotencyKeyHeader, WebhookBody } from './schemas.js';

const CustomId = Type.String({ minLength: 1, maxLength: 200, description: 'Your id for the item, echoed in its result line' });
const Priority = Type.Enum(['high', 'normal', 'low'], { default: 'normal' });
const Variables = Type.Record(Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_.-]*$' }), Type.Unknown(), { maxProperties: 200 });

const Body = Type.Union([
  Type.Object({
    templateId: Id('tpl'),
    items: Type.Array(Type.Object({ variables: Type.Optional(Variables), customId: Type.Optional(CustomId) }, { additionalProperties: false }),
      { minItems: 1, maxItems: BATCH_MAX_ITEMS }),
    priority: Type.Optional(Priority),
    webhook: Type.Optional(WebhookBody),
  }, { additionalProperties: false }),
  Type.Object({
    requests: Type.Array(Type.Object({ customId: Type.Optional(CustomId), body: ChatCompletionBody }, { additionalProperties: false }),
      { minItems: 1, maxItems: BATCH_MAX_ITEMS, description: 'Chat Completions request bodies (OpenAI format, without stream)' }),
    priority: Type.Optional(Priority),
    webhook: Type.Optional(WebhookBody),
  }, { additionalProperties: false }),
]);

const Counts = Type.Object({
  queued: Type.Integer(), active: Type.Integer(), failed: Type.Integer(), completed: Type.Integer(), dead: Type.Integer(), canceled: Type.Integer(),
  cached: Type.Integer({ description: 'Items answered at admission by a stored result (counted as completed too)' }),
});
export const Batch = Type.Object({
  id: Type.String(),
  object: Type.Literal('batch'),
  status: Type.Enum(['in_progress', 'completed', 'canceled']),
  templateId: Type.Union([Type.String(), Type.Null()]),
  priority: Type.Union([Type.String(), Type.Null()]),
  total: Type.Integer(),
  counts: Counts,
  progress: Type.Object({ settled: Type.Integer(), total: Type.Integer(), percent: Type.Integer() }),
  webhook: Type.Union([Type.Object({ url: Type.String(), events: Type.Array(Type.String()) }), Type.Null()]),
  createdAt: Type.String({ format: 'date-time' }),
  canceledAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  completedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
});

const Params = Type.Object({ id: Id('bat') });
const RESULTS = `JSON Lines, one per item in item order: \`{index, customId, jobId, status, result?, error?, usage?, costUsd, cached}\`.
Items not settled yet show their current status without a result. Streamed from Postgres in pages.`;

export default async function batchRoutes(fastify: FastifyInstance) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['batches'];

  app.post('/v1/batches', {
    bodyLimit: 32 * 1024 * 1024,
    schema: {
      tags,
      summary: `Admit up to ${BATCH_MAX_ITEMS} inputs in one request`,
      description: 'Each item is admitted as POST /v1/generate would (identical inputs share one job; results inside their TTL answer at once, `cached: true`). '
        + 'The worst case of every item to run is held in the budgets first: a batch that does not fit is refused whole (402) before anything is stored. '
        + 'The request counts as one against the request rate limit; its items\' worst cases are held in the key\'s tokens-per-minute window (429 whole when they do not fit). '
        + 'An item larger than the single request it stands for (1 MiB of JSON) is a 413.',
      headers: Type.Object({ 'idempotency-key': IdempotencyKeyHeader }),
      body: Body,
      response: {
        201: Batch,
        ...errorResponses('bad_request', 'invalid_json', 'missing_variables', 'unknown_variables', 'provider_unavailable', 'unknown_model',
          'template_not_found', 'payload_too_large', 'unsupported_media_type', 'service_unavailable', 'model_not_allowed', 'budget_exceeded',
          'webhook_url_forbidden', 'webhook_secret_required', 'webhook_disabled', 'idempotency_key_in_progress', 'idempotency_key_reused'),
      },
    },
  }, async (request, reply) => {
    // A repeat with the same key and items answers the first admission (the batch as it was then), admitting nothing.
    const res = await idempotently(app, request, async () => ({ status: 201, body: await app.svc.batches.create(request.body, request.caller!, request.id), headers: {} }));
    if (res.replayed) reply.header('idempotent-replayed', 'true');
    return reply.code(201).send(res.body as Static<typeof Batch>);
  });

  app.get('/v1/batches', {
    config: { rateLimit: readRateLimit },
    schema: {
      tags, summary: "The project's batches, newest first",
      querystring: Type.Object({
        limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20 })),
        cursor: Type.Optional(Type.String({ maxLength: 200 })),
      }, { additionalProperties: false }),
      response: { 200: Type.Object({ data: Type.Array(Batch), nextCursor: Type.Union([Type.String(), Type.Null()]) }), ...errorResponses('bad_request') },
    },
  }, async (request) => app.svc.batches.list(request.query, request.caller!));

  app.get('/v1/batches/:id', {
    config: { rateLimit: readRateLimit },
    schema: { tags, summary: 'A batch: counts of its items by status, and progress', params: Params, response: { 200: Batch, ...errorResponses('bad_request', 'batch_not_found') } },
  }, async (request) => app.svc.batches.get(request.params.id, request.caller!));

  app.get('/v1/batches/:id/results', {
    config: { rateLimit: readRateLimit },
    schema: {
      tags, summary: 'The results of a batch as JSON Lines, in item order', params: Params,
      response: { 200: { description: RESULTS, content: { 'application/jsonl': { schema: Type.String() } } }, ...errorResponses('bad_request', 'batch_not_found') },
    },
  }, async (request, reply) => {
    const lines = app.svc.batches.results(request.params.id, request.caller!);
    // The first page is read before answering, so a batch that is not the caller's is a 404, not a broken stream.
    const first = await lines.next();
    async function* all() {
      if (!first.done) yield first.value;
      yield* lines;
    }
    return reply.header('content-type', 'application/jsonl; charset=utf-8').send(Readable.from(all()) as never);
  });

  app.post('/v1/batches/:id/cancel', {
    schema: {
      tags, summary: 'Cancel the items of a batch that have not started', params: Params,
      description: 'Jobs the batch admitted that are still queued are removed and end `canceled`; running ones finish (cancel one with POST /v1/jobs/:id/cancel to abort it). Items that joined jobs of other requests are not canceled.',
      response: { 200: Batch, ...errorResponses('bad_request', 'batch_not_found') },
    },
  }, async (request) => app.svc.batches.cancel(request.params.id, request.caller!));
}
