import { Type, type Static } from 'typebox';
import { PromptLabMember } from '../answer.js';

const Block = Type.Object({ type: Type.String({ maxLength: 64 }) }, {
  additionalProperties: true,
  description: 'A content block: `text`, `image`, `document`, `tool_use`, `tool_result`, `thinking`, `redacted_thinking` (with `cache_control` where Anthropic takes it)',
});
const Content = Type.Union([Type.String(), Type.Array(Block, { maxItems: 1000 })]);
const CacheControl = Type.Object({ type: Type.Literal('ephemeral'), ttl: Type.Optional(Type.Enum(['5m', '1h'])) }, { additionalProperties: false });

const Tool = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 128 }),
  description: Type.Optional(Type.String({ maxLength: 100_000 })),
  input_schema: Type.Record(Type.String(), Type.Unknown()),
  type: Type.Optional(Type.Literal('custom', { description: 'Client tools only: server tools (web search, code execution…) are not run by PromptLab' })),
  cache_control: Type.Optional(CacheControl),
  strict: Type.Optional(Type.Boolean()),
  eager_input_streaming: Type.Optional(Type.Boolean({ description: 'Accepted: tool input is streamed as the provider sends it' })),
}, { additionalProperties: false });

const ToolChoice = Type.Object({
  type: Type.Enum(['auto', 'any', 'none', 'tool']),
  name: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
  disable_parallel_tool_use: Type.Optional(Type.Boolean()),
}, { additionalProperties: false });

const Thinking = Type.Union([
  Type.Object({ type: Type.Literal('enabled'), budget_tokens: Type.Integer({ minimum: 1, maximum: 1_000_000 }) }, { additionalProperties: false }),
  Type.Object({ type: Type.Literal('disabled') }, { additionalProperties: false }),
  Type.Object({ type: Type.Literal('adaptive') }, { additionalProperties: false }),
]);

const OutputConfig = Type.Object({
  format: Type.Optional(Type.Union([Type.Object({ type: Type.Literal('json_schema'), schema: Type.Record(Type.String(), Type.Unknown()) }, { additionalProperties: false }), Type.Null()])),
  effort: Type.Optional(Type.Union([Type.Enum(['low', 'medium', 'high', 'xhigh', 'max']), Type.Null()])),
}, { additionalProperties: false });

const MessagesFields = {
  model: Type.String({ minLength: 1, maxLength: 200 }),
  messages: Type.Array(Type.Object({ role: Type.Enum(['user', 'assistant']), content: Content }, { additionalProperties: false }), { minItems: 1, maxItems: 1000 }),
  system: Type.Optional(Content),
  tools: Type.Optional(Type.Array(Tool, { maxItems: 128 })),
  tool_choice: Type.Optional(ToolChoice),
  thinking: Type.Optional(Thinking),
  output_config: Type.Optional(OutputConfig),
};

/** The Messages parameters PromptLab supports; any other is a 400 naming it. */
export const MessagesBody = Type.Object({
  ...MessagesFields,
  max_tokens: Type.Integer({ minimum: 1, maximum: 1_000_000 }),
  temperature: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
  top_p: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
  top_k: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000 })),
  stop_sequences: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { maxItems: 16 })),
  metadata: Type.Optional(Type.Object({ user_id: Type.Optional(Type.Union([Type.String({ maxLength: 256 }), Type.Null()])) }, {
    additionalProperties: false, description: '`user_id` is kept on the job as its end user (GET /v1/jobs?endUser=), not part of the input',
  })),
  service_tier: Type.Optional(Type.Enum(['auto', 'standard_only'], { description: 'Accepted and ignored' })),
  stream: Type.Optional(Type.Boolean({ description: 'Answer as Server-Sent Events in this format, relayed from the job' })),
}, { additionalProperties: false });
export type MessagesBody = Static<typeof MessagesBody>;

/** `POST /v1/messages/count_tokens`: the Messages fields that make the input. */
export const CountTokensBody = Type.Object(MessagesFields, { additionalProperties: false });
export type CountTokensBody = Static<typeof CountTokensBody>;

export const CountTokensAnswer = Type.Object({ input_tokens: Type.Integer() });

const AnswerBlock = Type.Union([
  Type.Object({ type: Type.Literal('text'), text: Type.String() }),
  Type.Object({ type: Type.Literal('tool_use'), id: Type.String(), name: Type.String(), input: Type.Record(Type.String(), Type.Unknown()) }),
  Type.Object({ type: Type.Literal('thinking'), thinking: Type.String(), signature: Type.String() }),
  Type.Object({ type: Type.Literal('redacted_thinking'), data: Type.String() }),
]);

export const MessageAnswer = Type.Object({
  id: Type.String({ description: 'The jobId (GET /v1/jobs/:id)' }),
  type: Type.Literal('message'),
  role: Type.Literal('assistant'),
  content: Type.Array(AnswerBlock),
  model: Type.String(),
  stop_reason: Type.Enum(['end_turn', 'max_tokens', 'tool_use', 'refusal']),
  stop_sequence: Type.Null(),
  usage: Type.Object({
    input_tokens: Type.Integer(), output_tokens: Type.Integer(),
    cache_creation_input_tokens: Type.Integer(), cache_read_input_tokens: Type.Integer(),
  }, { description: 'What this call was charged: zero for an answer from PromptLab\'s cache (see `promptlab`)' }),
  promptlab: PromptLabMember,
});

/** Anthropic's error body: `{type: 'error', error: {type, message}}`. */
export const AnthropicErrorBody = Type.Object({
  type: Type.Literal('error'),
  error: Type.Object({ type: Type.String(), message: Type.String() }),
}, { description: "Anthropic's error body" });
