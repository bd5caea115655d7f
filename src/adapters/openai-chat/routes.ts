import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { errorReply } from '../../errors/handler.js';
import { errorResponsesIn } from '../../routes/schemas.js';
import { compatBodyLimit, HELD_DESCRIPTION, serveCall, WIRE_ERRORS, WireHeaders } from '../serve.js';
import { openaiErrorBody } from './errors.js';
import { chatAnnotations, chatRequest } from './request.js';
import { chatCompletion } from './response.js';
import { ChatCompletion, ChatCompletionBody, ModelList, OpenAIErrorBody } from './schema.js';
import { openaiStream } from './stream.js';

/**
 * OpenAI's wire format: Chat Completions (a durable job like /v1/generate, held or streamed) and
 * the models list. An encapsulated plugin whose every error, from auth to the job, is OpenAI's body.
 */
export default async function openaiChatRoutes(fastify: FastifyInstance) {
  fastify.setErrorHandler(errorReply(openaiErrorBody));
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { registry, config } = app.deps;

  app.post('/v1/chat/completions', {
    bodyLimit: compatBodyLimit(config),
    schema: {
      tags: ['compat'],
      summary: 'OpenAI Chat Completions, held or streamed: the model picks the provider',
      description: HELD_DESCRIPTION,
      headers: WireHeaders,
      body: ChatCompletionBody,
      response: { 200: ChatCompletion, ...errorResponsesIn(OpenAIErrorBody, ...WIRE_ERRORS) },
    },
  }, async (request, reply) => {
    const { body } = request;
    const stream = body.stream && ((id: string) => openaiStream(id, body.model, body.stream_options?.include_usage === true));
    await serveCall(app, request, reply, { request: chatRequest(registry, body), model: body.model, annotations: chatAnnotations(body) }, stream, chatCompletion);
  });

  app.get('/v1/models', {
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
