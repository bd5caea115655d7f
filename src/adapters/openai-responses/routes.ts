import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from 'typebox';
import { homeProject } from '../../auth/caller.js';
import type { GenerationRow } from '../../db/schema.js';
import { AppError } from '../../errors/app-error.js';
import { errorReply } from '../../errors/handler.js';
import { jobOutcome } from '../../jobs/dto.js';
import { answerBlocks } from '../../llm/answer.js';
import { compactContent, type Message } from '../../llm/message.js';
import { messagesOf } from '../../llm/stored.js';
import { errorResponsesIn } from '../../routes/schemas.js';
import { compatAnswer } from '../answer.js';
import { openaiErrorBody } from '../openai-chat/errors.js';
import { OpenAIErrorBody } from '../openai-chat/schema.js';
import { compatBodyLimit, HELD_DESCRIPTION, serveCall, WIRE_ERRORS, WireHeaders } from '../serve.js';
import { responsesAnnotations, responsesRequest } from './request.js';
import { responseObject, type ResponseEcho } from './response.js';
import { DeletedResponse, ResponseObject, ResponsesBody } from './schema.js';
import { responsesStream } from './stream.js';

const Params = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });

/** What a response repeats of its request, from the body that made it. */
function echoOf(body: ResponsesBody): ResponseEcho {
  return {
    instructions: body.instructions ?? null, tools: (body.tools ?? []) as Record<string, unknown>[], tool_choice: body.tool_choice ?? 'auto',
    parallel_tool_calls: body.parallel_tool_calls ?? true, text: { format: body.text?.format ?? { type: 'text' } },
    max_output_tokens: body.max_output_tokens ?? null, temperature: body.temperature ?? null, top_p: body.top_p ?? null,
    previous_response_id: body.previous_response_id ?? null, metadata: body.metadata ?? {},
  };
}

/** What a stored response repeats of its request, from its row. */
function echoOfRow(row: GenerationRow): ResponseEcho {
  const o = row.requestOptions ?? {};
  return {
    instructions: row.system, tools: (o.tools ?? []).map((t) => ({ type: 'function', name: t.name, description: t.description ?? null, parameters: t.parameters, strict: t.strict ?? null })),
    tool_choice: o.toolChoice === undefined ? 'auto' : typeof o.toolChoice === 'string' ? o.toolChoice : { type: 'function', name: o.toolChoice.name },
    parallel_tool_calls: o.parallelToolCalls ?? true, text: { format: row.outputSchema ? { type: 'json_schema', name: 'response', schema: row.outputSchema } : { type: 'text' } },
    max_output_tokens: row.maxTokens, temperature: row.temperature, top_p: row.topP, previous_response_id: null, metadata: row.metadata ?? {},
  };
}

/**
 * OpenAI's Responses API: `POST /v1/responses` is a durable job like a chat call (held or streamed
 * as typed events), its id the jobId; the conversation is kept as the jobs themselves, so
 * `previous_response_id` continues one (its input and its answer); `GET` and `DELETE` read and
 * forget one, in the caller's project. An encapsulated plugin answering errors in OpenAI's body.
 */
export default async function openaiResponsesRoutes(fastify: FastifyInstance) {
  fastify.setErrorHandler(errorReply(openaiErrorBody));
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { registry, config } = app.deps;

  /** A settled, undeleted response of the caller's project, or a 404. */
  const stored = async (id: string, scope: Parameters<typeof app.svc.jobs.get>[1]): Promise<GenerationRow> => {
    const row = await app.svc.jobs.get(id, scope).catch((err: unknown) => {
      if (err instanceof AppError && err.code === 'job_not_found') return undefined;
      throw err;
    });
    if (!row || row.deletedAt || row.requestOptions?.embed) throw new AppError('response_not_found', `No response ${id}.`, { param: 'id' });
    return row;
  };

  /** The conversation a response ends: its input, then its answer. */
  const conversationOf = (row: GenerationRow): Message[] => {
    if (row.status !== 'completed') throw new AppError('bad_request', `Response ${row.id} has not completed (${row.status}); previous_response_id needs a completed one.`, { param: 'previous_response_id' });
    const { result } = jobOutcome(row);
    return [...messagesOf(row), { role: 'assistant', content: compactContent(answerBlocks(result!.text, result!.blocks)) }];
  };

  app.post('/v1/responses', {
    bodyLimit: compatBodyLimit(config),
    schema: {
      tags: ['compat'],
      summary: 'OpenAI Responses, held or streamed: the model picks the provider',
      description: `${HELD_DESCRIPTION} \`previous_response_id\` continues a response of this project.`,
      headers: WireHeaders,
      body: ResponsesBody,
      response: { 200: ResponseObject, ...errorResponsesIn(OpenAIErrorBody, ...WIRE_ERRORS, 'response_not_found') },
    },
  }, async (request, reply) => {
    const { body } = request;
    const before = body.previous_response_id ? conversationOf(await stored(body.previous_response_id, { projectId: homeProject(request.caller!) })) : [];
    const echo = echoOf(body);
    const call = { request: responsesRequest(registry, body, before), model: body.model, annotations: responsesAnnotations(body) };
    const createdAt = Math.floor(Date.now() / 1000);
    await serveCall(app, request, reply, call, body.stream === true && ((id: string) => responsesStream(id, body.model, echo)), (a) => responseObject(a, echo, createdAt));
  });

  app.get('/v1/responses/:id', {
    schema: {
      tags: ['compat'],
      summary: 'A response of this project, as it stands (in_progress until its job completes)',
      params: Params,
      response: { 200: ResponseObject, ...errorResponsesIn(OpenAIErrorBody, 'response_not_found') },
    },
  }, async (request) => {
    const row = await stored(request.params.id, request.caller!);
    const o = jobOutcome(row);
    const createdAt = Math.floor(row.createdAt.getTime() / 1000);
    if (o.status === 'completed' && o.result) return responseObject(compatAnswer(row.id, row.model, { result: o.result, finishReason: o.finishReason, usage: o.usage, cached: false }), echoOfRow(row), createdAt);
    const status = o.status === 'dead' ? 'failed' as const : o.status === 'canceled' ? 'cancelled' as const : o.status === 'queued' ? 'queued' as const : 'in_progress' as const;
    const pending: Static<typeof ResponseObject> = {
      id: row.id, object: 'response' as const, created_at: createdAt, status, model: row.model, output: [], usage: null, ...echoOfRow(row),
      error: o.error ?? null, incomplete_details: null, store: true, promptlab: { job_id: row.id, cached: false },
    };
    return pending;
  });

  app.delete('/v1/responses/:id', {
    schema: {
      tags: ['compat'],
      summary: 'Forget a settled response: never served again (nor continued from); its job stays for the accounts',
      params: Params,
      response: { 200: DeletedResponse, ...errorResponsesIn(OpenAIErrorBody, 'response_not_found') },
    },
  }, async (request) => {
    const { id } = request.params;
    const hash = await app.svc.ledger.forget(id, request.caller!);
    if (!hash) throw new AppError('response_not_found', `No settled response ${id} to delete.`, { param: 'id' });
    await app.svc.cache.delete(hash);
    return { id, object: 'response' as const, deleted: true as const };
  });
}
