import type { Message } from './message.js';
import type { GenerationRequest } from './request.js';

/**
 * A request flattened as a queued job and a `generations` row hold it (`requestOf` puts it back
 * together). `prompt` alone stands on rows and jobs older than `messages`.
 */
export interface StoredRequest {
  provider: string;
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

/** A request as job data and the row store it. */
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

/** The messages a stored request was admitted with: the one fallback for rows and jobs older than `messages`, whose prompt was the one user message. */
export const messagesOf = (s: Pick<StoredRequest, 'messages' | 'prompt'>): Message[] => s.messages ?? [{ role: 'user', content: s.prompt ?? '' }];

/** The request a job or row was admitted with. */
export function requestOf(s: StoredRequest): GenerationRequest {
  return {
    provider: s.provider,
    model: s.model,
    ...(s.system ? { system: s.system } : {}),
    messages: messagesOf(s),
    params: {
      maxTokens: s.maxTokens,
      ...(s.temperature != null ? { temperature: s.temperature } : {}),
      ...(s.topP != null ? { topP: s.topP } : {}),
      ...(s.stop?.length ? { stop: s.stop } : {}),
    },
    ...(s.outputSchema ? { responseFormat: { type: 'json_schema', schema: s.outputSchema } } : {}),
  };
}
