import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { errorReply } from '../../errors/handler.js';
import { errorResponsesIn } from '../../routes/schemas.js';
import { HELD_DESCRIPTION, serveCall, WIRE_ERRORS, WireHeaders } from '../serve.js';
import { anthropicErrorBody } from './errors.js';
import { messagesRequest } from './request.js';
import { messageAnswer } from './response.js';
import { AnthropicErrorBody, MessageAnswer, MessagesBody } from './schema.js';
import { anthropicStream } from './stream.js';

/**
 * Anthropic's wire format: Messages (a durable job like /v1/generate, held or streamed). An
 * encapsulated plugin whose every error, from auth to the job, is Anthropic's body.
 */
export default async function anthropicMessagesRoutes(fastify: FastifyInstance) {
  fastify.setErrorHandler(errorReply(anthropicErrorBody));
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { registry } = app.deps;

  app.post('/v1/messages', {
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
    await serveCall(app, request, reply, messagesRequest(registry, body), body.model, body.stream && ((id: string) => anthropicStream(id, body.model)), messageAnswer);
  });
}
