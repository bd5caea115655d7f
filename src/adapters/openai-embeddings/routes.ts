import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import type { Static } from 'typebox';
import { AppError } from '../../errors/app-error.js';
import { errorReply } from '../../errors/handler.js';
import { assertSupported, assertUsable } from '../../generation/build.js';
import { requestContext } from '../../generation/request-context.js';
import { idempotently } from '../../idempotency/request.js';
import { errorResponsesIn } from '../../routes/schemas.js';
import { openaiErrorBody } from '../openai-chat/errors.js';
import { OpenAIErrorBody } from '../openai-chat/schema.js';
import { compatBodyLimit, WIRE_ERRORS, WireHeaders } from '../serve.js';
import { routeModel } from '../translate.js';
import { EmbeddingList, EmbeddingsBody } from './schema.js';

/** A vector (base64 of little-endian float32s) as numbers. */
const floats = (b64: string): number[] => {
  const bytes = Buffer.from(b64, 'base64');
  return Array.from(new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4));
};

/** The texts of `input`: a 400 naming the first item that is not a non-empty string. */
function textsOf(input: EmbeddingsBody['input']): string[] {
  const list = typeof input === 'string' ? [input] : input;
  return list.map((x, i) => {
    if (typeof x === 'string' && x.length > 0 && x.length <= 100_000) return x;
    const what = Array.isArray(x) || typeof x === 'number' ? 'is token ids: PromptLab embeds text; send the text' : 'must be a non-empty string of at most 100,000 characters';
    throw new AppError('bad_request', `input[${i}] ${what}.`, { param: `input[${i}]` });
  });
}

/**
 * OpenAI's Embeddings: each text answered from the cache when it is there, the rest embedded by
 * one job (src/embeddings/service.ts), held until it completes. An encapsulated plugin answering
 * errors in OpenAI's body.
 */
export default async function openaiEmbeddingsRoutes(fastify: FastifyInstance) {
  fastify.setErrorHandler(errorReply(openaiErrorBody));
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { registry, config } = app.deps;

  app.post('/v1/embeddings', {
    bodyLimit: compatBodyLimit(config),
    schema: {
      tags: ['compat'],
      summary: 'OpenAI Embeddings: cached text by text, the rest embedded by one job',
      description: 'Texts the cache has cost nothing (`usage` counts only the texts embedded now; `promptlab.cached_inputs` how many were cached). The rest are one job, held up to COMPAT_WAIT_SECONDS. `encoding_format: base64` is little-endian float32.',
      headers: WireHeaders,
      body: EmbeddingsBody,
      response: { 200: EmbeddingList, ...errorResponsesIn(OpenAIErrorBody, ...WIRE_ERRORS) },
    },
  }, async (request, reply) => {
    const { body } = request;
    const { provider, model } = routeModel(registry, body.model);
    const inputs = textsOf(body.input);
    const caller = request.caller!;
    assertUsable(registry, config, caller, provider, model);
    assertSupported(registry, { provider, model, messages: [], params: { maxTokens: 0 }, embed: { inputs: [] } });
    const ctx = requestContext(request, reply, { defaultWaitSeconds: config.COMPAT_WAIT_SECONDS, ...(body.user ? { annotations: { endUser: body.user } } : {}) });
    const res = await idempotently(app, request, async () => {
      const e = await app.svc.embeddings.embed({ provider, model, inputs, ...(body.dimensions !== undefined ? { dimensions: body.dimensions } : {}) }, ctx);
      const base64 = body.encoding_format === 'base64';
      return {
        status: 200,
        headers: { 'x-cache': e.jobId ? (e.cached ? 'PARTIAL' : 'MISS') : 'HIT', ...(e.jobId ? { 'x-promptlab-job-id': e.jobId } : {}) },
        body: {
          object: 'list', model: body.model,
          data: e.vectors.map((v, index) => ({ object: 'embedding', index, embedding: base64 ? v : floats(v) })),
          usage: { prompt_tokens: e.paidTokens, total_tokens: e.paidTokens },
          promptlab: { job_id: e.firstJobId, cached: !e.jobId, cached_inputs: e.cached },
        },
      };
    });
    if (res.replayed) reply.header('idempotent-replayed', 'true');
    await reply.code(200).headers(res.headers).send(res.body as Static<typeof EmbeddingList>);
  });
}
