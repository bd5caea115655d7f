import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { errorReply } from '../../errors/handler.js';
import { countTokens } from '../../generation/count-tokens.js';
import { errorResponsesIn } from '../../routes/schemas.js';
import { compatBodyLimit, HELD_DESCRIPTION, serveCall, WIRE_ERRORS, WireHeaders } from '../serve.js';
import { anthropicErrorBody } from './errors.js';
import { messagesAnnotations, messagesRequest } from './request.js';
import { messageAnswer } from './response.js';
import { AnthropicErrorBody, CountTokensAnswer, CountTokensBody, MessageAnswer, MessagesBody } from './schema.js';
import { anthropicStream } from './stream.js';

/**
 * Anthropic's wire format: Messages (a durable job like /v1/generate, held or streamed) and token
 * counting. An
 * encapsulated plugin whose every error, from auth to the job, is Anthropic's body.
 */
export default async function anthropicMessagesRoutes(fastify: FastifyInstance) {
  fastify.setErrorHandler(errorReply(anthropicErrorBody));
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { registry, config } = app.deps;

  app.post('/v1/messages', {
    bodyLimit: compatBodyLimit(config),
    schema: {
      tags: ['compat'],
      summary: 'Anthropic Messages, held or streamed: the model picks the provider',
      description: HELD_DESCRIPTION,
      headers: WireHeaders,
      body: MessagesBody,
      response: { 200: MessageAnswer, ...errorResponsesIn(AnthropicErrorBody, ...WIRE_ERRORS) },
    },
  }, async (request, reply) => {
    const { body } = request;
    const call = { request: messagesRequest(registry, body), model: body.model, annotations: messagesAnnotations(body) };
    await serveCall(app, request, reply, call, body.stream && ((id: string) => anthropicStream(id, body.model)), messageAnswer);
  });

  app.post('/v1/messages/count_tokens', {
    bodyLimit: compatBodyLimit(config),
    schema: {
      tags: ['compat'],
      summary: 'Anthropic token counting: the input tokens a Messages call would send',
      description: "Counted by the model's provider where it can count (Anthropic), else estimated as the admission estimates (about 4 characters a token, plus each image's and document's share). No job, nothing paid, nothing stored.",
      body: CountTokensBody,
      response: { 200: CountTokensAnswer, ...errorResponsesIn(AnthropicErrorBody, 'bad_request', 'invalid_json', 'provider_unavailable', 'unknown_model', 'model_not_allowed', 'payload_too_large', 'generation_failed') },
    },
  }, async (request) => ({ input_tokens: await countTokens(registry, config, request.caller!, messagesRequest(registry, request.body)) }));
}
