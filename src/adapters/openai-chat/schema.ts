import { Type, type Static } from 'typebox';
import { FINISH_REASONS } from '../../llm/result.js';

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
