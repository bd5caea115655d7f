import { Type, type Static } from 'typebox';
import type { ProviderRegistry } from '../providers/registry.js';
import { FINISH_REASONS } from '../llm/result.js';
import { DEFAULT_MAX_TOKENS } from '../llm/request.js';
import { type GenerationRequest } from '../llm/request.js';
import { checkSchema } from '../templates/output-schema.js';
import { assertMessages, routeModel, textOf, type CompatAnswer } from './translate.js';

const Part = Type.Object({ type: Type.String({ maxLength: 64 }) }, { additionalProperties: true, description: 'A content part: `{"type": "text", "text"}`' });
const Content = Type.Union([Type.String(), Type.Array(Part, { minItems: 1, maxItems: 100 })]);
const ChatMessage = Type.Object({
  role: Type.Enum(['system', 'developer', 'user', 'assistant']),
  content: Content,
  name: Type.Optional(Type.String({ maxLength: 64 })),
}, { additionalProperties: false });

const ResponseFormat = Type.Union([
  Type.Object({ type: Type.Literal('text') }, { additionalProperties: false }),
  Type.Object({ type: Type.Literal('json_object') }, { additionalProperties: false }),
  Type.Object({
    type: Type.Literal('json_schema'),
    json_schema: Type.Object({
      name: Type.String({ maxLength: 64 }),
      description: Type.Optional(Type.String()),
      schema: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
      strict: Type.Optional(Type.Union([Type.Boolean(), Type.Null()])),
    }, { additionalProperties: false }),
  }, { additionalProperties: false }),
]);

/** The Chat Completions parameters PromptLab supports; any other is a 400 naming it. */
export const ChatCompletionBody = Type.Object({
  model: Type.String({ minLength: 1, maxLength: 200 }),
  messages: Type.Array(ChatMessage, { minItems: 1, maxItems: 1000 }),
  max_tokens: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000 })),
  max_completion_tokens: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000 })),
  temperature: Type.Optional(Type.Number({ minimum: 0, maximum: 2 })),
  top_p: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
  stop: Type.Optional(Type.Union([Type.String({ minLength: 1 }), Type.Array(Type.String({ minLength: 1 }), { maxItems: 4 })])),
  n: Type.Optional(Type.Literal(1, { description: 'Only 1: one choice per call' })),
  response_format: Type.Optional(ResponseFormat),
  user: Type.Optional(Type.String({ maxLength: 256, description: 'Accepted and ignored' })),
  stream: Type.Optional(Type.Boolean({ description: 'Answer as Server-Sent Events in this format, relayed from the job' })),
  stream_options: Type.Optional(Type.Object({ include_usage: Type.Optional(Type.Boolean()) }, { additionalProperties: false })),
}, { additionalProperties: false });
export type ChatCompletionBody = Static<typeof ChatCompletionBody>;

export const ChatCompletion = Type.Object({
  id: Type.String({ description: 'The jobId (GET /v1/jobs/:id)' }),
  object: Type.Literal('chat.completion'),
  created: Type.Integer(),
  model: Type.String(),
  choices: Type.Array(Type.Object({
    index: Type.Integer(),
    message: Type.Object({ role: Type.Literal('assistant'), content: Type.String(), refusal: Type.Null() }),
    finish_reason: Type.Enum([...FINISH_REASONS]),
    logprobs: Type.Null(),
  })),
  usage: Type.Object({ prompt_tokens: Type.Integer(), completion_tokens: Type.Integer(), total_tokens: Type.Integer() }),
});

/**
 * A Chat Completions body as a provider-neutral request: system and developer messages
 * joined into `system`, `json_schema` as `responseFormat`, `json_object` as a schema of any
 * object, `text` as none.
 */
export function chatRequest(registry: ProviderRegistry, body: ChatCompletionBody): GenerationRequest {
  const { provider, model } = routeModel(registry, body.model);
  const system = body.messages.flatMap((m, i) => (m.role === 'system' || m.role === 'developer' ? [textOf(m.content, `messages[${i}].content`)] : []));
  const messages = assertMessages(body.messages.flatMap((m, i) =>
    m.role === 'user' || m.role === 'assistant' ? [{ role: m.role, content: textOf(m.content, `messages[${i}].content`) }] : []));
  const rf = body.response_format;
  const schema = rf?.type === 'json_schema' ? (rf.json_schema.schema ?? {}) : rf?.type === 'json_object' ? { type: 'object' } : undefined;
  // Compiled before anything is paid: a schema the worker could not check the answer against is a 400 now, not a dead job.
  if (rf?.type === 'json_schema') checkSchema(schema, 'response_format.json_schema.schema', 'bad_request', { param: 'response_format.json_schema.schema' });
  const stop = typeof body.stop === 'string' ? [body.stop] : body.stop;
  return {
    provider, model,
    ...(system.length ? { system: system.join('\n\n') } : {}),
    messages,
    params: {
      maxTokens: body.max_completion_tokens ?? body.max_tokens ?? DEFAULT_MAX_TOKENS,
      ...(body.temperature !== undefined ? { temperature: body.temperature } : {}),
      ...(body.top_p !== undefined ? { topP: body.top_p } : {}),
      ...(stop?.length ? { stop } : {}),
    },
    ...(schema ? { responseFormat: { type: 'json_schema', schema } } : {}),
  };
}

/** A completed generation as a `chat.completion`. */
export function chatCompletion(a: CompatAnswer): Static<typeof ChatCompletion> {
  return {
    id: a.jobId, object: 'chat.completion', created: Math.floor(Date.now() / 1000), model: a.model,
    choices: [{ index: 0, message: { role: 'assistant', content: a.text, refusal: null }, finish_reason: a.finishReason, logprobs: null }],
    usage: { prompt_tokens: a.inputTokens, completion_tokens: a.outputTokens, total_tokens: a.inputTokens + a.outputTokens },
  };
}
