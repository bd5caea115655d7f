import { createAnthropicProvider } from './anthropic.js';
import { createFakeProvider } from './fake.js';
import { createOpenAIProvider } from './openai.js';
import type { Provider, ProviderName } from './types.js';

export type { GenerateRequest, GenerateResult, Provider, ProviderName, StopReason } from './types.js';
export { PROVIDER_ERROR_TABLE, ProviderError, toProviderError, type ProviderErrorCode } from './errors.js';
export { costUsd, priceFor, pricingOf, PRICING, type ModelPrice, type PricingOverrides } from './pricing.js';

/** The model used when neither the request nor the template names one. */
export const DEFAULT_MODELS: Readonly<Record<ProviderName, string>> = {
  anthropic: 'claude-haiku-4-5',
  openai: 'gpt-4o-mini',
  fake: 'fake-1',
};

/** Options of {@link createProviders}, normally straight from the boot config. */
export interface CreateProvidersOptions {
  /** Enables `anthropic`. @defaultValue unset (`ANTHROPIC_API_KEY`): anthropic is not available */
  anthropicApiKey?: string;
  /** Anthropic API root, without `/v1`. @defaultValue `https://api.anthropic.com` (`ANTHROPIC_BASE_URL`) */
  anthropicBaseUrl?: string;
  /** Enables `openai`. @defaultValue unset (`OPENAI_API_KEY`) */
  openaiApiKey?: string;
  /**
   * OpenAI-compatible API root, including `/v1`; enables `openai` even without a key, for
   * local servers (Ollama, vLLM, LM Studio). @defaultValue `https://api.openai.com/v1` (`OPENAI_BASE_URL`)
   */
  openaiBaseUrl?: string;
  /** Timeout of one provider call. @defaultValue 30000 (`PROVIDER_TIMEOUT_MS`) */
  timeoutMs: number;
  /** Latency of the `fake` provider. @defaultValue 50 (`FAKE_LATENCY_MS`) */
  fakeLatencyMs: number;
}

/**
 * The configured providers: `anthropic` when it has a key, `openai` when it has a key or a
 * base URL, and `fake` always.
 */
export function createProviders(opts: CreateProvidersOptions): Partial<Record<ProviderName, Provider>> {
  const providers: Partial<Record<ProviderName, Provider>> = {
    fake: createFakeProvider({ latencyMs: opts.fakeLatencyMs }),
  };
  if (opts.anthropicApiKey) {
    providers.anthropic = createAnthropicProvider({
      apiKey: opts.anthropicApiKey,
      timeoutMs: opts.timeoutMs,
      ...(opts.anthropicBaseUrl && { baseURL: opts.anthropicBaseUrl }),
    });
  }
  if (opts.openaiApiKey || opts.openaiBaseUrl) {
    providers.openai = createOpenAIProvider({
      timeoutMs: opts.timeoutMs,
      ...(opts.openaiApiKey && { apiKey: opts.openaiApiKey }),
      ...(opts.openaiBaseUrl && { baseURL: opts.openaiBaseUrl }),
    });
  }
  return providers;
}
