import type { GenerationRequest } from '../generation/request.js';

/**
 * A provider's name, as the registry (`registry.ts`) knows it: a built-in (`anthropic`,
 * `openai`, `fake`) or a `PROVIDERS_JSON` one. Checked against the registry wherever it comes in.
 */
export type ProviderName = string;

/**
 * One call, provider-neutral: a `GenerationRequest` (src/generation/request.ts) without
 * its provider, which the caller has already chosen.
 */
export interface GenerateRequest extends Omit<GenerationRequest, 'provider'> {
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
  /**
   * The same call in the provider's streaming mode: `onDelta` gets each piece of text as it
   * arrives, in order; the result is the whole answer, as `generate` would return it. A
   * provider without it is streamed as one piece, once its whole answer is in.
   */
  stream?(req: GenerateRequest, onDelta: (text: string) => void): Promise<GenerateResult>;
}

/**
 * The system prompt to send for `req`: its own system prompt plus, when `responseFormat` is
 * set, an instruction to answer with JSON only. Put in the prompt rather than in a
 * provider's structured-output option because OpenAI-compatible servers differ there.
 */
export function systemPromptFor(req: Pick<GenerateRequest, 'system' | 'responseFormat'>): string | undefined {
  if (!req.responseFormat) return req.system;
  const instruction =
    'Answer with only a JSON value that conforms to the following JSON Schema. ' +
    'Do not wrap it in Markdown code fences and do not add any other text.\n' +
    `JSON Schema:\n${JSON.stringify(req.responseFormat.schema, null, 2)}`;
  return req.system ? `${req.system}\n\n${instruction}` : instruction;
}
