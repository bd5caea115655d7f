import { AppError } from '../errors/app-error.js';
import { Type, type TSchema } from 'typebox';
import { ERRORS, type ErrorCode } from '../errors/catalogue.js';
import { JOB_STATUSES, PRIORITIES, WEBHOOK_EVENTS } from '../db/schema.js';
import { FINISH_REASONS } from '../llm/result.js';

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
  return errorResponsesIn(ErrorBody, ...codes);
}

/** `errorResponses` with another error body: a wire format's routes (src/adapters/), which answer errors in their own. */
export function errorResponsesIn(body: TSchema, ...codes: ErrorCode[]): Record<number, TSchema> {
  const out: Record<number, TSchema> = {};
  for (const c of ['unauthorized', 'rate_limited', 'rate_limiter_unavailable', ...codes] as ErrorCode[]) {
    const status = ERRORS[c].status;
    const prior = (out[status] as { description?: string } | undefined)?.description;
    out[status] = { ...body, description: prior ? `${prior}, ${c}` : c };
  }
  return out;
}

/** A provider name; which names exist is the registry's (src/providers/registry.ts), checked by the services. */
export const Provider = Type.String({ pattern: '^[a-z][a-z0-9_-]{0,39}$', description: 'A provider of the registry: anthropic, openai, fake or a PROVIDERS_JSON name' });
export const Id = (prefix: string) => Type.String({ pattern: `^${prefix}_[A-Za-z0-9_-]{1,64}$`, maxLength: 80 });
/** A message's content: its text, or its content blocks (text, image, document, audio, tool_call, tool_result, thinking, redacted_thinking). */
export const Content = Type.Union([Type.String(), Type.Array(Type.Object({ type: Type.String() }, { additionalProperties: true }))]);
export const Usage = Type.Object({
  inputTokens: Type.Integer(), outputTokens: Type.Integer(), totalTokens: Type.Integer(),
  cacheReadTokens: Type.Optional(Type.Integer({ description: "Of the input tokens, read from the provider's prompt cache" })),
  cacheWriteTokens: Type.Optional(Type.Integer({ description: "Of the input tokens, written to the provider's prompt cache" })),
  reasoningTokens: Type.Optional(Type.Integer({ description: 'Of the output tokens, spent reasoning' })),
});
export const Result = Type.Object({
  text: Type.String(),
  json: Type.Optional(Type.Unknown()),
  blocks: Type.Optional(Type.Array(Type.Object({ type: Type.String() }, { additionalProperties: true }), { description: 'The answer\'s blocks when it is more than text: tool_call, thinking, redacted_thinking, text' })),
  logprobs: Type.Optional(Type.Unknown({ description: 'Log probabilities, as the provider sent them (when asked)' })),
});
export const JobError = Type.Object({ code: Type.String(), message: Type.String() });
export const FinishReason = Type.Enum([...FINISH_REASONS], {
  description: 'Why the answer ended: `stop`, `length` (cut off at maxTokens; still an answer, cached like any other), `tool_calls`, `refusal` or `content_filter`',
});

export const Job = Type.Object({
  id: Type.String(),
  status: Type.Enum([...JOB_STATUSES]),
  templateId: Type.Union([Type.String(), Type.Null()], { description: 'The template the request was rendered from; null when it was not built from one' }),
  templateVersion: Type.Union([Type.Integer(), Type.Null()]),
  provider: Provider,
  model: Type.String(),
  inputHash: Type.String(),
  apiKeyId: Type.String({ description: 'The key that admitted it (`admin` for the admin key)' }),
  system: Type.Optional(Type.Union([Type.String(), Type.Null()], { description: 'GET /v1/jobs/:id only' })),
  messages: Type.Optional(Type.Array(Type.Object({ role: Type.Enum(['user', 'assistant']), content: Content }), { description: 'The prompt as sent: the rendered template body, or the chat messages (GET /v1/jobs/:id only; lists leave it out)' })),
  options: Type.Optional(Type.Record(Type.String(), Type.Unknown(), { description: 'What the request held beyond text chat: tools, tool choice, reasoning, seed, an embedding\'s inputs (GET /v1/jobs/:id only)' })),
  endUser: Type.Optional(Type.String({ description: 'The end user a wire-format call named (not part of the input)' })),
  metadata: Type.Optional(Type.Record(Type.String(), Type.Unknown(), { description: 'The metadata a wire-format call sent (not part of the input)' })),
  attempts: Type.Integer(),
  priority: Type.Enum([...PRIORITIES], { description: 'Queue class; raised when a request of a higher class joins the job' }),
  result: Type.Optional(Result),
  finishReason: Type.Optional(FinishReason),
  responseModel: Type.Optional(Type.String({ description: 'The model that answered, as the provider reported it (a dated snapshot of `model`, say)' })),
  deployment: Type.Optional(Type.String({ description: 'The deployment of the routing document that answered a model group\'s call' })),
  route: Type.Optional(Type.Array(Type.Object({
    deployment: Type.String(), group: Type.String(), outcome: Type.String(), code: Type.Optional(Type.String()), at: Type.Integer(),
  }), { description: 'Each deployment a model group\'s call moved on from, why (429, 5xx, timeout, error, context) and when (epoch ms)' })),
  usage: Type.Optional(Usage),
  costUsd: Type.Optional(Type.Union([Type.Number(), Type.Null()], { description: 'USD of all attempts; null when the model has no price (ALLOW_UNPRICED_MODELS)' })),
  error: Type.Optional(JobError),
  traceId: Type.Optional(Type.String({ description: 'The OpenTelemetry trace of the request that admitted it (when tracing was on): its attempts are spans of that trace' })),
  cached: Type.Boolean(),
  batchId: Type.Union([Type.String(), Type.Null()], { description: 'The batch that admitted this job (POST /v1/batches); null for single requests' }),
  createdAt: Type.String({ format: 'date-time' }),
  startedAt: Type.Optional(Type.String({ format: 'date-time' })),
  completedAt: Type.Optional(Type.String({ format: 'date-time' })),
});

const BudgetSpec = Type.Object({
  usd: Type.Number({ exclusiveMinimum: 0, maximum: 1e9, description: 'USD per period' }),
  period: Type.Enum(['day', 'month'], { description: 'UTC day or calendar month' }),
}, { additionalProperties: false });
/** `budgets` of a key or template: USD per UTC day and/or calendar month. */
export const BudgetList = Type.Array(BudgetSpec, { maxItems: 2, uniqueItems: true, description: 'At most one per period; [] removes them' });
/** A budget as it stands in its current period. */
export const BudgetStatus = Type.Object({
  usd: Type.Number(), period: Type.String(), spentUsd: Type.Number(), reservedUsd: Type.Number(), remainingUsd: Type.Number(),
  resetAt: Type.String({ format: 'date-time' }),
});

/** One budget per period: a list naming a period twice is a 400. */
export function periodsOnce<T extends { period: string }>(list: T[]): T[] {
  if (new Set(list.map((b) => b.period)).size !== list.length) throw new AppError('bad_request', 'body/budgets names a period twice: one budget per period.');
  return list;
}

/** `webhook` of generate and batch requests (Standard Webhooks deliveries, signed with the key's secret). */
export const WebhookBody = Type.Object({
  url: Type.String({ minLength: 8, maxLength: 2000, pattern: '^https?://', description: 'http(s) URL that must resolve to a public address (unless WEBHOOK_ALLOW_PRIVATE)' }),
  events: Type.Optional(Type.Array(Type.Enum([...WEBHOOK_EVENTS]), { minItems: 1, maxItems: WEBHOOK_EVENTS.length, uniqueItems: true,
    description: 'Default: ["completed","dead","canceled"] on generate, ["batch.completed"] on batches' })),
}, { additionalProperties: false });

export { IdempotencyKeyHeader } from '../idempotency/request.js';
