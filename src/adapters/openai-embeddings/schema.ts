import { Type, type Static } from 'typebox';
import { PromptLabMember } from '../answer.js';

/** `POST /v1/embeddings` as OpenAI takes it: text input only (token arrays are a 400 naming them). */
export const EmbeddingsBody = Type.Object({
  model: Type.String({ minLength: 1, maxLength: 200 }),
  input: Type.Union([
    Type.String({ minLength: 1, maxLength: 100_000 }),
    Type.Array(Type.Unknown(), { minItems: 1, maxItems: 2048, description: 'Texts (arrays of token ids are not taken)' }),
  ]),
  dimensions: Type.Optional(Type.Integer({ minimum: 1, maximum: 4096 })),
  encoding_format: Type.Optional(Type.Enum(['float', 'base64'], { default: 'float', description: '`base64`: little-endian float32 bytes (what the OpenAI SDK asks for by default)' })),
  user: Type.Optional(Type.String({ maxLength: 256, description: 'Kept on the job as its end user, not part of the input' })),
}, { additionalProperties: false });
export type EmbeddingsBody = Static<typeof EmbeddingsBody>;

export const EmbeddingList = Type.Object({
  object: Type.Literal('list'),
  data: Type.Array(Type.Object({ object: Type.Literal('embedding'), index: Type.Integer(), embedding: Type.Union([Type.Array(Type.Number()), Type.String()]) })),
  model: Type.String(),
  usage: Type.Object({ prompt_tokens: Type.Integer(), total_tokens: Type.Integer() }, { description: 'The tokens this call paid for: texts answered from the cache count none' }),
  promptlab: Type.Intersect([PromptLabMember, Type.Object({ cached_inputs: Type.Integer({ description: 'How many texts the cache answered' }) })]),
});
