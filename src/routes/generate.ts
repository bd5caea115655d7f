import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from 'typebox';
import { idempotencyOwner } from '../auth/caller.js';
import { canonicalHash } from '../llm/hash.js';
import { PRIORITIES } from '../db/schema.js';
import { GenerationHeaders, requestContext } from '../generation/request-context.js';
import { toJobDto } from '../jobs/dto.js';
import { failedGenerationError } from '../jobs/failed-answer.js';
import { DEFAULT_JOB_EVENTS } from '../webhooks/service.js';
import { errorResponses, FinishReason, Id, JobError, Provider, Result, Usage, WebhookBody } from './schemas.js';

const Body = Type.Object({
  templateId: Id('tpl'),
  variables: Type.Optional(Type.Record(Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_.-]*$' }), Type.Unknown(), { maxProperties: 200 })),
  input: Type.Optional(Type.String({ description: 'Shorthand for the variable `input`' })),
  provider: Type.Optional(Provider),
  model: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  priority: Type.Optional(Type.Enum([...PRIORITIES], { description: "Queue class; default: the key's, else its tier's (PRIORITY_<TIER>)" })),
  webhook: Type.Optional({ ...WebhookBody, description: 'Tell this URL when the job ends (not sent for a cached answer, which is final at once)' }),
}, { additionalProperties: false });

const Answer = Type.Object({
  jobId: Type.String(),
  status: Type.String(),
  cached: Type.Boolean(),
  result: Type.Optional(Result),
  finishReason: Type.Optional(FinishReason),
  usage: Type.Optional(Usage),
  costUsd: Type.Optional(Type.Union([Type.Number(), Type.Null()], { description: 'null when the model has no price (ALLOW_UNPRICED_MODELS)' })),
  error: Type.Optional(JobError),
});

export default async function generateRoutes(fastify: FastifyInstance) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  app.post('/v1/generate', {
    schema: {
      tags: ['generate'],
      summary: 'Generate from a template: a cached result (200), or a job (202)',
      description: 'Header `X-Cache: HIT|MISS|BYPASS`. `Cache-Control: no-cache` skips the cache lookup and refreshes it.',
      querystring: Type.Object({
        wait: Type.Optional(Type.Integer({ minimum: 0, maximum: 60, description: 'Seconds to hold the response until the job ends' })),
      }, { additionalProperties: false }),
      headers: Type.Object(GenerationHeaders),
      body: Body,
      response: {
        200: { ...Answer, description: 'Cached result, or the settled job with ?wait=' },
        202: { ...Answer, description: 'Job admitted (or joined: identical in-flight input)' },
        ...errorResponses('bad_request', 'invalid_json', 'missing_variables', 'unknown_variables', 'provider_unavailable', 'unknown_model',
          'template_not_found', 'idempotency_key_in_progress', 'payload_too_large', 'unsupported_media_type',
          'idempotency_key_reused', 'service_unavailable', 'model_not_allowed', 'budget_exceeded', 'generation_failed', 'generation_unrecoverable',
          'webhook_url_forbidden', 'webhook_secret_required', 'webhook_disabled'),
      },
    },
  }, async (request, reply) => {
    const caller = request.caller!;
    const { priority, webhook, ...body } = request.body;
    const ctx = requestContext(request, reply, { defaultWaitSeconds: 0, ...(request.query.wait !== undefined ? { waitSeconds: request.query.wait } : {}), ...(priority ? { priority } : {}) });
    const run = async () => {
      const hook = webhook ? await app.svc.webhooks.check(caller, webhook, DEFAULT_JOB_EVENTS) : undefined;
      const o = await app.svc.generation.generate(body, ctx);
      if (hook && !o.body.cached) await app.svc.webhooks.subscribe(o.body.jobId, caller, hook);
      // Held for the job and it died: an error (4xx when a retry cannot fix it), with the job in the details.
      if (ctx.waitMs > 0 && o.body.status === 'dead') {
        const job = toJobDto(await app.svc.jobs.get(o.body.jobId, caller));
        throw failedGenerationError(job.id, job.error, { job });
      }
      return { status: o.status, body: o.body, headers: { 'x-cache': o.cache, ...(o.tier ? { 'x-cache-tier': o.tier } : {}) } };
    };
    const key = request.headers['idempotency-key'];
    const res = key ? await app.svc.idempotency.run(idempotencyOwner(caller), key, canonicalHash(request.body), run) : await run();
    if ('replayed' in res && res.replayed) reply.header('idempotent-replayed', 'true');
    return reply.code(res.status as 200 | 202).headers(res.headers).send(res.body as Static<typeof Answer>);
  });
}
