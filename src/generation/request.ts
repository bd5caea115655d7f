import type { TemplateRow } from '../db/schema.js';
import type { ProviderName } from '../providers/types.js';
import { render } from '../templates/render.js';

/**
 * Why an answer ended: `stop` (the model finished, or hit a stop sequence), `length` (cut off at
 * `maxTokens`: still an answer, kept and cached like any other). OpenAI's names; the Anthropic
 * format says `end_turn` and `max_tokens`.
 */
export const FINISH_REASONS = ['stop', 'length'] as const;
export type FinishReason = (typeof FINISH_REASONS)[number];

/** Who wrote a message; the system prompt is `GenerationRequest.system`, never a message. */
export type Role = 'user' | 'assistant';

export interface Message {
  role: Role;
  content: string;
}

/** Sampling parameters; an absent one is the provider's own default. */
export interface GenerationParams {
  /** Upper bound on output tokens; hitting it cuts the answer off (finish reason `length`). */
  maxTokens: number;
  temperature?: number;
  topP?: number;
  /** Sequences that end the answer. */
  stop?: string[];
}

/** Ask for JSON conforming to `schema`; the worker validates the answer against it. */
export interface ResponseFormat {
  type: 'json_schema';
  schema: Record<string, unknown>;
}

/**
 * One generation, provider-neutral: what is sent to the provider and what its input hash
 * is computed from. A template is one way to build it (`templateRequest`).
 */
export interface GenerationRequest {
  provider: ProviderName;
  model: string;
  system?: string;
  messages: Message[];
  params: GenerationParams;
  responseFormat?: ResponseFormat;
}

/** The template's settings, rendered: its system, its body as the one user message, its params and outputSchema. */
export function templateRequest(
  tpl: Pick<TemplateRow, 'body' | 'system' | 'maxTokens' | 'temperature' | 'outputSchema'>,
  variables: Record<string, unknown>,
  target: { provider: ProviderName; model: string; defaultMaxTokens: number },
): GenerationRequest {
  return {
    provider: target.provider,
    model: target.model,
    ...(tpl.system ? { system: render(tpl.system, variables) } : {}),
    messages: [{ role: 'user', content: render(tpl.body, variables) }],
    params: { maxTokens: tpl.maxTokens ?? target.defaultMaxTokens, ...(tpl.temperature != null ? { temperature: tpl.temperature } : {}) },
    ...(tpl.outputSchema ? { responseFormat: { type: 'json_schema', schema: tpl.outputSchema } } : {}),
  };
}

/**
 * The text of the `prompt` column, kept for readers of old rows: the one user message's
 * content, or every message as `role: content` lines.
 */
export function promptOf(messages: readonly Message[]): string {
  if (messages.length === 1 && messages[0]!.role === 'user') return messages[0]!.content;
  return messages.map((m) => `${m.role}: ${m.content}`).join('\n');
}

/** What a queued job or a generation row holds of its request (`prompt` alone on rows and jobs older than `messages`). */
export interface StoredRequest {
  provider: ProviderName;
  model: string;
  system: string | null;
  messages?: Message[] | null;
  prompt?: string;
  maxTokens: number;
  temperature: number | null;
  topP?: number | null;
  stop?: string[] | null;
  outputSchema: Record<string, unknown> | null;
}

/** A request flattened as job data and the `generations` row hold it; `requestOf` puts it back together. */
export function storedRequest(r: GenerationRequest) {
  return {
    provider: r.provider,
    model: r.model,
    system: r.system ?? null,
    messages: r.messages,
    maxTokens: r.params.maxTokens,
    temperature: r.params.temperature ?? null,
    ...(r.params.topP !== undefined ? { topP: r.params.topP } : {}),
    ...(r.params.stop ? { stop: r.params.stop } : {}),
    outputSchema: r.responseFormat?.schema ?? null,
  } satisfies StoredRequest;
}

/** The request a job or row was admitted with; one without `messages` had its prompt as the one user message. */
export function requestOf(s: StoredRequest): GenerationRequest {
  return {
    provider: s.provider,
    model: s.model,
    ...(s.system ? { system: s.system } : {}),
    messages: s.messages ?? [{ role: 'user', content: s.prompt ?? '' }],
    params: {
      maxTokens: s.maxTokens,
      ...(s.temperature != null ? { temperature: s.temperature } : {}),
      ...(s.topP != null ? { topP: s.topP } : {}),
      ...(s.stop?.length ? { stop: s.stop } : {}),
    },
    ...(s.outputSchema ? { responseFormat: { type: 'json_schema', schema: s.outputSchema } } : {}),
  };
}
