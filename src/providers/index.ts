import type { Config } from '../config/index.js';
import { BUILT_IN_PROVIDERS, registryOf } from './registry.js';
import type { Provider } from './types.js';

export type { GenerateRequest, GenerateResult, Provider, ProviderName, StopReason } from './types.js';
export { PROVIDER_ERROR_TABLE, ProviderError, toProviderError, type ProviderErrorCode } from './errors.js';
export { costUsd, priceFor, pricingOf, PRICING, type ModelPrice, type PricingOverrides } from './pricing.js';
export { BUILT_IN_PROVIDERS, ProviderRegistry, registryOf, type ProviderDefinition } from './registry.js';

/** The built-in providers' default models (used when neither the request nor the template names one). */
export const DEFAULT_MODELS: Readonly<Record<string, string>> = Object.fromEntries(
  BUILT_IN_PROVIDERS.map((d) => [d.name, d.defaultModel]),
);

/**
 * The providers `config` enables, one SDK client each, by name: `anthropic` with a key,
 * `openai` with a key or a base URL, `fake` always, and every `PROVIDERS_JSON` provider.
 */
export const createProviders = (config: Config): Record<string, Provider> => registryOf(config).createProviders();
