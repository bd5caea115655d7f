import { Type, type TSchema } from 'typebox';
import { ERRORS, type ErrorCode } from '../errors/catalogue.js';
import { JOB_STATUSES } from '../db/schema.js';

export const ErrorBody = Type.Object(
  {
    error: Type.Object({
      code: Type.String({ description: 'snake_case code from the error catalogue' }),
      message: Type.String(),
      details: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    }),
  },
  { $id: 'ErrorBody', description: 'The standard error body' },
);

/** Error responses of a route, by status, from the codes it can answer with. */
export function errorResponses(...codes: ErrorCode[]): Record<number, TSchema> {
  const out: Record<number, TSchema> = {};
  for (const c of ['unauthorized', 'rate_limited', 'rate_limiter_unavailable', ...codes] as ErrorCode[]) {
    const status = ERRORS[c].status;
    const prior = (out[status] as { description?: string } | undefined)?.description;
    out[status] = { ...ErrorBody, description: prior ? `${prior}, ${c}` : c };
  }
  return out;
}

export const Provider = Type.Enum(['anthropic', 'openai', 'fake']);
export const Id = (prefix: string) => Type.String({ pattern: `^${prefix}_[A-Za-z0-9_-]{1,64}$`, maxLength: 80 });
export const Usage = Type.Object({ inputTokens: Type.Integer(), outputTokens: Type.Integer(), totalTokens: Type.Integer() });
export const Result = Type.Object({ text: Type.String(), json: Type.Optional(Type.Unknown()) });
export const JobError = Type.Object({ code: Type.String(), message: Type.String() });

export const Job = Type.Object({
  id: Type.String(),
  status: Type.Enum([...JOB_STATUSES]),
  templateId: Type.String(),
  templateVersion: Type.Integer(),
  provider: Provider,
  model: Type.String(),
  inputHash: Type.String(),
  attempts: Type.Integer(),
  result: Type.Optional(Result),
  usage: Type.Optional(Usage),
  costUsd: Type.Optional(Type.Union([Type.Number(), Type.Null()], { description: 'USD of all attempts; null when the model has no price (ALLOW_UNPRICED_MODELS)' })),
  error: Type.Optional(JobError),
  cached: Type.Boolean(),
  createdAt: Type.String({ format: 'date-time' }),
  startedAt: Type.Optional(Type.String({ format: 'date-time' })),
  completedAt: Type.Optional(Type.String({ format: 'date-time' })),
});
