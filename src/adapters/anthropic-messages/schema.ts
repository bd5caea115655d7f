import { Type, type Static } from 'typebox';

const Block = Type.Object({ type: Type.String({ maxLength: 64 }) }, { additionalProperties: true, description: 'A content block: `{"type": "text", "text", "cache_control"?}` (cache_control accepted and ignored)' });
const Content = Type.Union([Type.String(), Type.Array(Block, { minItems: 1, maxItems: 100 })]);

/** The Messages parameters PromptLab supports; any other is a 400 naming it. */
export const MessagesBody = Type.Object({
  model: Type.String({ minLength: 1, maxLength: 200 }),
  max_tokens: Type.Integer({ minimum: 1, maximum: 1_000_000 }),
  messages: Type.Array(Type.Object({ role: Type.Enum(['user', 'assistant']), content: Content }, { additionalProperties: false }), { minItems: 1, maxItems: 1000 }),
  system: Type.Optional(Content),
  temperature: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
  top_p: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
  stop_sequences: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { maxItems: 16 })),
  metadata: Type.Optional(Type.Object({ user_id: Type.Optional(Type.String()) }, { description: 'Accepted and ignored' })),
  stream: Type.Optional(Type.Boolean({ description: 'Answer as Server-Sent Events in this format, relayed from the job' })),
}, { additionalProperties: false });
export type MessagesBody = Static<typeof MessagesBody>;

export const MessageAnswer = Type.Object({
  id: Type.String({ description: 'The jobId (GET /v1/jobs/:id)' }),
  type: Type.Literal('message'),
  role: Type.Literal('assistant'),
  content: Type.Array(Type.Object({ type: Type.Literal('text'), text: Type.String() })),
  model: Type.String(),
  stop_reason: Type.Enum(['end_turn', 'max_tokens']),
  stop_sequence: Type.Null(),
  usage: Type.Object({ input_tokens: Type.Integer(), output_tokens: Type.Integer() }),
});

/** Anthropic's error body: `{type: 'error', error: {type, message}}`. */
export const AnthropicErrorBody = Type.Object({
  type: Type.Literal('error'),
  error: Type.Object({ type: Type.String(), message: Type.String() }),
}, { description: "Anthropic's error body" });
