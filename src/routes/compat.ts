import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { answerCompat } from '../compat/answer.js';
import { MessageAnswer, messageAnswer, MessagesBody, messagesRequest } from '../compat/anthropic-format.js';
import { AnthropicErrorBody, OpenAIErrorBody } from '../compat/error-bodies.js';
import { anthropicStream, openaiStream, streamCompat, type StreamFormat } from '../compat/stream.js';
import type { CompatAnswer } from '../compat/translate.js';
import type { GenerationRequest } from '../llm/request.js';
import { ChatCompletion, chatCompletion, ChatCompletionBody, chatRequest } from '../compat/openai-format.js';
import { PRIORITIES } from '../db/schema.js';
import { errorResponsesIn, IdempotencyKeyHeader } from './schemas.js';

const Headers = Type.Object({
  'cache-control': Type.Optional(Type.String()),
  'x-promptlab-priority': Type.Optional(Type.Enum([...PRIORITIES], { description: "Queue class of the job; default: the key's, else its tier's" })),
  'idempotency-key': IdempotencyKeyHeader,
});
const CODES = ['bad_request', 'invalid_json', 'provider_unavailable', 'unknown_model', 'idempotency_key_in_progress', 'payload_too_large',
  'unsupported_media_type', 'idempotency_key_reused', 'service_unavailable', 'model_not_allowed', 'budget_exceeded',
  'generation_failed', 'generation_unrecoverable', 'generation_timeout'] as const;
const held = 'Held until the job ends (up to COMPAT_WAIT_SECONDS, default 60 s, then 504 generation_timeout with the jobId). ' +
  'Headers `X-Cache: HIT|MISS|BYPASS` and `X-PromptLab-Job-Id`. With `stream: true`, Server-Sent Events in this format, ' +
  'relayed from the job (a cached answer is replayed as a stream); see the README, "Streaming".';

const ModelList = Type.Object({
  object: Type.Literal('list'),
  data: Type.Array(Type.Object({ id: Type.String(), object: Type.Literal('model'), created: Type.Integer(), owned_by: Type.String() })),
});

/** Drop-in routes: OpenAI's Chat Completions and models list, Anthropic's Messages; each a durable job like /v1/generate. */
export default async function compatRoutes(fastify: FastifyInstance) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { registry } = app.deps;

  /** One compat call: relayed as a stream in the caller's format (`stream`), or held and answered whole (`render`). */
  const serve = async (
    request: FastifyRequest, reply: FastifyReply, generation: GenerationRequest, model: string,
    stream: false | undefined | ((jobId: string) => StreamFormat), render: (a: CompatAnswer) => unknown,
  ) => {
    if (stream) return streamCompat(app, request, reply, generation, stream);
    const res = await answerCompat(app, request, generation, model, render);
    if (res.replayed) reply.header('idempotent-replayed', 'true');
    return reply.code(200).headers(res.headers).send(res.body as never);
  };

  app.post('/v1/chat/completions', {
    config: { errorFormat: 'openai' },
    schema: {
      tags: ['compat'],
      summary: 'OpenAI Chat Completions, held or streamed: the model picks the provider',
      description: held,
      headers: Headers,
      body: ChatCompletionBody,
      response: { 200: ChatCompletion, ...errorResponsesIn(OpenAIErrorBody, ...CODES) },
    },
  }, async (request, reply) => {
    const { body } = request;
    const stream = body.stream && ((id: string) => openaiStream(id, body.model, body.stream_options?.include_usage === true));
    return serve(request, reply, chatRequest(registry, body), body.model, stream, chatCompletion);
  });

  app.post('/v1/messages', {
    config: { errorFormat: 'anthropic' },
    schema: {
      tags: ['compat'],
      summary: 'Anthropic Messages, held or streamed: the model picks the provider',
      description: held,
      headers: Headers,
      body: MessagesBody,
      response: { 200: MessageAnswer, ...errorResponsesIn(AnthropicErrorBody, ...CODES) },
    },
  }, async (request, reply) => {
    const { body } = request;
    return serve(request, reply, messagesRequest(registry, body), body.model, body.stream && ((id: string) => anthropicStream(id, body.model)), messageAnswer);
  });

  app.get('/v1/models', {
    config: { errorFormat: 'openai' },
    schema: {
      tags: ['compat'],
      summary: "The enabled providers' priced models, in OpenAI's list format",
      description: 'Each `id` routes back to its provider on /v1/chat/completions and /v1/messages (`provider/model` when its name alone would not).',
      response: { 200: ModelList, ...errorResponsesIn(OpenAIErrorBody) },
    },
  }, async () => {
    const data = registry.models().map(({ provider, model }) => ({
      id: registry.routeModel(model)?.provider === provider ? model : `${provider}/${model}`,
      object: 'model' as const, created: 0, owned_by: provider,
    }));
    return { object: 'list' as const, data };
  });
}
