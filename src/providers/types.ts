/**
 * A provider's name, as the registry (`registry.ts`) knows it: a built-in (`anthropic`,
 * `openai`, `fake`) or a `PROVIDERS_JSON` one. Checked against the registry wherever it comes in.
 */
export type ProviderName = string;

/** One generation request, provider-neutral. */
export interface GenerateRequest {
  /** Provider model id, e.g. `claude-haiku-4-5` or `gpt-4o-mini`. */
  model: string;
  /** The rendered user prompt. */
  prompt: string;
  /** Optional system prompt. */
  system?: string;
  /** Upper bound on output tokens; hitting it yields `stopReason: 'max_tokens'`. */
  maxTokens: number;
  /** Sampling temperature. @defaultValue the provider's own default */
  temperature?: number;
  /** When set, the model is asked to answer with JSON conforming to this JSON Schema (the caller validates). */
  jsonSchema?: Record<string, unknown>;
  /** Aborts the call; the provider then throws a `provider_aborted` `ProviderError` (see `errors.ts`). */
  signal?: AbortSignal;
}

/**
 * Why generation stopped. Only `end` is a complete answer: `max_tokens` is cut off and
 * `refusal` is the model declining, and neither may be cached.
 */
export type StopReason = 'end' | 'max_tokens' | 'refusal' | 'other';

/** What a provider returns for one call. */
export interface GenerateResult {
  text: string;
  inputTokens: number;
  outputTokens: number;
  stopReason: StopReason;
  /** The model that answered, as the provider reports it (may be a dated snapshot of the requested one). */
  model: string;
}

/**
 * One LLM backend. `generate` makes exactly one upstream call (no SDK retries: retries
 * belong to the job queue) and throws only `ProviderError` (see `errors.ts`).
 */
export interface Provider {
  readonly name: ProviderName;
  generate(req: GenerateRequest): Promise<GenerateResult>;
}

/**
 * The system prompt to send for `req`: its own system prompt plus, when `jsonSchema` is
 * set, an instruction to answer with JSON only. Put in the prompt rather than in a
 * provider's structured-output option because OpenAI-compatible servers differ there.
 */
export function systemPromptFor(req: Pick<GenerateRequest, 'system' | 'jsonSchema'>): string | undefined {
  if (!req.jsonSchema) return req.system;
  const instruction =
    'Answer with only a JSON value that conforms to the following JSON Schema. ' +
    'Do not wrap it in Markdown code fences and do not add any other text.\n' +
    `JSON Schema:\n${JSON.stringify(req.jsonSchema, null, 2)}`;
  return req.system ? `${req.system}\n\n${instruction}` : instruction;
}
