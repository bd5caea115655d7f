import { Type, type Static } from 'typebox';
import { PromptLabMember } from '../answer.js';

const Part = Type.Object({ type: Type.String({ maxLength: 64 }) }, {
  additionalProperties: true,
  description: 'A content part: `text`, `image_url` (an http(s) or base64 data: URL), `input_audio`, `file` (file_data: a base64 PDF)',
});
const Content = Type.Union([Type.String(), Type.Array(Part, { maxItems: 1000 })]);
const ToolCall = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 256 }),
  type: Type.Literal('function'),
  function: Type.Object({ name: Type.String({ minLength: 1, maxLength: 256 }), arguments: Type.String() }, { additionalProperties: false }),
}, { additionalProperties: false });
const ChatMessage = Type.Object({
  role: Type.Enum(['system', 'developer', 'user', 'assistant', 'tool']),
  content: Type.Optional(Type.Union([Content, Type.Null()])),
  name: Type.Optional(Type.String({ maxLength: 64 })),
  tool_calls: Type.Optional(Type.Array(ToolCall, { maxItems: 128 })),
  tool_call_id: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
  refusal: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  // Fields of an answer that clients send back as they got it (the SDK's stream helper adds `parsed`): ignored.
  parsed: Type.Optional(Type.Unknown({ description: 'Ignored (an answer sent back as received)' })),
  annotations: Type.Optional(Type.Array(Type.Unknown(), { maxItems: 1000, description: 'Ignored (an answer sent back as received)' })),
  function_call: Type.Optional(Type.Null()),
}, { additionalProperties: false });

const Tool = Type.Object({
  type: Type.Literal('function'),
  function: Type.Object({
    name: Type.String({ minLength: 1, maxLength: 64, pattern: '^[a-zA-Z0-9_.-]+$' }),
    description: Type.Optional(Type.String({ maxLength: 100_000 })),
    parameters: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    strict: Type.Optional(Type.Union([Type.Boolean(), Type.Null()])),
  }, { additionalProperties: false }),
}, { additionalProperties: false });
const ToolChoice = Type.Union([
  Type.Enum(['none', 'auto', 'required']),
  Type.Object({ type: Type.Literal('function'), function: Type.Object({ name: Type.String({ minLength: 1, maxLength: 64 }) }, { additionalProperties: false }) }, { additionalProperties: false }),
]);

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
  n: Type.Optional(Type.Integer({ minimum: 1, maximum: 128, description: 'Only 1: one job is one answer (docs/compatible-endpoints.md)' })),
  response_format: Type.Optional(ResponseFormat),
  tools: Type.Optional(Type.Array(Tool, { maxItems: 128 })),
  tool_choice: Type.Optional(ToolChoice),
  parallel_tool_calls: Type.Optional(Type.Boolean()),
  seed: Type.Optional(Type.Integer({ minimum: -(2 ** 53) + 1, maximum: 2 ** 53 - 1 })),
  logprobs: Type.Optional(Type.Union([Type.Boolean(), Type.Null()])),
  top_logprobs: Type.Optional(Type.Integer({ minimum: 0, maximum: 20 })),
  reasoning_effort: Type.Optional(Type.Enum(['none', 'minimal', 'low', 'medium', 'high', 'xhigh'])),
  metadata: Type.Optional(Type.Record(Type.String({ maxLength: 64 }), Type.String({ maxLength: 512 }), { maxProperties: 16 })),
  user: Type.Optional(Type.String({ maxLength: 256, description: 'The end user: kept on the job (GET /v1/jobs?endUser=), not part of the input' })),
  safety_identifier: Type.Optional(Type.String({ maxLength: 256, description: 'Kept on the job as its end user, like `user`' })),
  store: Type.Optional(Type.Union([Type.Boolean(), Type.Null()], { description: 'Accepted: every call is kept as its job anyway' })),
  stream: Type.Optional(Type.Boolean({ description: 'Answer as Server-Sent Events in this format, relayed from the job' })),
  stream_options: Type.Optional(Type.Object({ include_usage: Type.Optional(Type.Boolean()) }, { additionalProperties: false })),
}, { additionalProperties: false });
export type ChatCompletionBody = Static<typeof ChatCompletionBody>;

const UsageSchema = Type.Object({
  prompt_tokens: Type.Integer(), completion_tokens: Type.Integer(), total_tokens: Type.Integer(),
  prompt_tokens_details: Type.Optional(Type.Object({ cached_tokens: Type.Integer() })),
  completion_tokens_details: Type.Optional(Type.Object({ reasoning_tokens: Type.Integer() })),
}, { description: 'What this call was charged: zero for an answer from PromptLab\'s cache (see `promptlab`)' });

export const ChatCompletion = Type.Object({
  id: Type.String({ description: 'The jobId (GET /v1/jobs/:id)' }),
  object: Type.Literal('chat.completion'),
  created: Type.Integer(),
  model: Type.String(),
  choices: Type.Array(Type.Object({
    index: Type.Integer(),
    message: Type.Object({
      role: Type.Literal('assistant'),
      content: Type.Union([Type.String(), Type.Null()]),
      refusal: Type.Union([Type.String(), Type.Null()]),
      tool_calls: Type.Optional(Type.Array(ToolCall)),
    }),
    finish_reason: Type.Enum(['stop', 'length', 'tool_calls', 'content_filter']),
    logprobs: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()]),
  })),
  usage: UsageSchema,
  promptlab: PromptLabMember,
});

/** `GET /v1/models`: OpenAI's list format. */
export const ModelList = Type.Object({
  object: Type.Literal('list'),
  data: Type.Array(Type.Object({ id: Type.String(), object: Type.Literal('model'), created: Type.Integer(), owned_by: Type.String() })),
});

/** OpenAI's error body: `{error: {message, type, param, code}}`; `code` is PromptLab's catalogue code. */
export const OpenAIErrorBody = Type.Object({
  error: Type.Object({
    message: Type.String(),
    type: Type.String(),
    param: Type.Union([Type.String(), Type.Null()]),
    code: Type.Union([Type.String(), Type.Null()]),
  }),
}, { description: "OpenAI's error body; `code` is PromptLab's error code" });
