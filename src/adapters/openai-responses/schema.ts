import { Type, type Static } from 'typebox';
import { PromptLabMember } from '../answer.js';

const Item = Type.Object({ type: Type.Optional(Type.String({ maxLength: 64 })) }, {
  additionalProperties: true,
  description: 'An input item: a message (`role`, `content` as text or input_text / input_image / input_file / output_text parts), a `function_call`, a `function_call_output`, or a `reasoning` item PromptLab returned',
});

const Tool = Type.Object({ type: Type.String({ maxLength: 64 }) }, {
  additionalProperties: true,
  description: 'A function tool: `{type: "function", name, description?, parameters, strict?}`; built-in tools are not run by PromptLab',
});

const Format = Type.Union([
  Type.Object({ type: Type.Literal('text') }, { additionalProperties: false }),
  Type.Object({ type: Type.Literal('json_object') }, { additionalProperties: false }),
  Type.Object({
    type: Type.Literal('json_schema'),
    name: Type.String({ maxLength: 64 }),
    schema: Type.Record(Type.String(), Type.Unknown()),
    description: Type.Optional(Type.String()),
    strict: Type.Optional(Type.Union([Type.Boolean(), Type.Null()])),
  }, { additionalProperties: false }),
]);

/** The Responses parameters PromptLab supports; any other is a 400 naming it. */
export const ResponsesBody = Type.Object({
  model: Type.String({ minLength: 1, maxLength: 200 }),
  input: Type.Union([Type.String(), Type.Array(Item, { maxItems: 5000 })]),
  instructions: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  tools: Type.Optional(Type.Array(Tool, { maxItems: 128 })),
  tool_choice: Type.Optional(Type.Union([
    Type.Enum(['none', 'auto', 'required']),
    Type.Object({ type: Type.Literal('function'), name: Type.String({ minLength: 1, maxLength: 128 }) }, { additionalProperties: false }),
  ])),
  parallel_tool_calls: Type.Optional(Type.Union([Type.Boolean(), Type.Null()])),
  text: Type.Optional(Type.Object({
    format: Type.Optional(Format),
    verbosity: Type.Optional(Type.Union([Type.Enum(['low', 'medium', 'high']), Type.Null()], { description: 'Accepted and ignored' })),
  }, { additionalProperties: false })),
  max_output_tokens: Type.Optional(Type.Union([Type.Integer({ minimum: 1, maximum: 1_000_000 }), Type.Null()])),
  temperature: Type.Optional(Type.Union([Type.Number({ minimum: 0, maximum: 2 }), Type.Null()])),
  top_p: Type.Optional(Type.Union([Type.Number({ minimum: 0, maximum: 1 }), Type.Null()])),
  top_logprobs: Type.Optional(Type.Union([Type.Integer({ minimum: 0, maximum: 20 }), Type.Null()])),
  reasoning: Type.Optional(Type.Union([Type.Object({
    effort: Type.Optional(Type.Union([Type.Enum(['none', 'minimal', 'low', 'medium', 'high', 'xhigh']), Type.Null()])),
    summary: Type.Optional(Type.Union([Type.Enum(['auto', 'concise', 'detailed']), Type.Null()], { description: 'Accepted; reasoning comes back as the provider gives it' })),
  }, { additionalProperties: false }), Type.Null()])),
  previous_response_id: Type.Optional(Type.Union([Type.String({ minLength: 1, maxLength: 64 }), Type.Null()], { description: "Continue that response's conversation (its input and its answer, in this project)" })),
  stream: Type.Optional(Type.Union([Type.Boolean(), Type.Null()])),
  store: Type.Optional(Type.Union([Type.Boolean(), Type.Null()], { description: 'Accepted: every response is kept as its job (DELETE /v1/responses/:id forgets it)' })),
  include: Type.Optional(Type.Union([Type.Array(Type.String({ maxLength: 128 }), { maxItems: 32 }), Type.Null()], { description: 'Accepted and ignored' })),
  truncation: Type.Optional(Type.Union([Type.Enum(['auto', 'disabled']), Type.Null()], { description: 'Accepted; nothing is truncated' })),
  metadata: Type.Optional(Type.Union([Type.Record(Type.String({ maxLength: 64 }), Type.String({ maxLength: 512 }), { maxProperties: 16 }), Type.Null()])),
  user: Type.Optional(Type.String({ maxLength: 256, description: 'Kept on the job as its end user, not part of the input' })),
  safety_identifier: Type.Optional(Type.String({ maxLength: 256, description: 'Kept on the job as its end user, like `user`' })),
  prompt_cache_key: Type.Optional(Type.String({ maxLength: 256, description: 'Accepted and ignored' })),
  prompt_cache_retention: Type.Optional(Type.Union([Type.String({ maxLength: 32 }), Type.Null()], { description: 'Accepted and ignored' })),
  service_tier: Type.Optional(Type.Union([Type.String({ maxLength: 32 }), Type.Null()], { description: 'Accepted and ignored' })),
  max_tool_calls: Type.Optional(Type.Union([Type.Integer({ minimum: 1 }), Type.Null()], { description: 'Accepted: PromptLab runs no built-in tools' })),
  stream_options: Type.Optional(Type.Union([Type.Object({ include_obfuscation: Type.Optional(Type.Boolean()) }, { additionalProperties: false }), Type.Null()])),
  background: Type.Optional(Type.Literal(false, { description: 'Only false: a call is already a durable job (GET /v1/responses/:id)' })),
}, { additionalProperties: false });
export type ResponsesBody = Static<typeof ResponsesBody>;

/** A Responses `response` object; its output items are as OpenAI's (message, function_call, reasoning). */
export const ResponseObject = Type.Object({
  id: Type.String({ description: 'The jobId (GET /v1/jobs/:id)' }),
  object: Type.Literal('response'),
  created_at: Type.Integer(),
  status: Type.Enum(['completed', 'incomplete', 'in_progress', 'queued', 'failed', 'cancelled']),
  model: Type.String(),
  output: Type.Array(Type.Record(Type.String(), Type.Unknown())),
  usage: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()]),
  instructions: Type.Union([Type.String(), Type.Null()]),
  tools: Type.Array(Type.Record(Type.String(), Type.Unknown())),
  tool_choice: Type.Unknown(),
  parallel_tool_calls: Type.Boolean(),
  text: Type.Record(Type.String(), Type.Unknown()),
  max_output_tokens: Type.Union([Type.Integer(), Type.Null()]),
  temperature: Type.Union([Type.Number(), Type.Null()]),
  top_p: Type.Union([Type.Number(), Type.Null()]),
  previous_response_id: Type.Union([Type.String(), Type.Null()]),
  metadata: Type.Record(Type.String(), Type.Unknown()),
  error: Type.Union([Type.Object({ code: Type.String(), message: Type.String() }), Type.Null()]),
  incomplete_details: Type.Union([Type.Object({ reason: Type.String() }), Type.Null()]),
  store: Type.Boolean(),
  promptlab: PromptLabMember,
});

export const DeletedResponse = Type.Object({ id: Type.String(), object: Type.Literal('response'), deleted: Type.Literal(true) });
