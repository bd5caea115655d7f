import type { ModelPrice } from '../llm/price.js';
import { anthropicDefinition } from './anthropic/index.js';
import { fakeDefinition } from './fake/index.js';
import { openaiDefinition } from './openai/index.js';
import type { ProviderDefinition } from './types.js';

/**
 * The providers that exist without configuration, in `DEFAULT_PROVIDER`'s fallback order: a new
 * provider is a folder of its own and one line here.
 */
export const BUILT_IN_PROVIDERS: readonly ProviderDefinition[] = [anthropicDefinition, openaiDefinition, fakeDefinition];

/** The built-in providers' list prices, by provider then model (each declared in its provider's folder). */
export const PRICING: Readonly<Record<string, Readonly<Record<string, ModelPrice>>>> = Object.fromEntries(
  BUILT_IN_PROVIDERS.map((d) => [d.name, d.prices]),
);

/** The built-in providers' default models (used when neither the request nor the template names one). */
export const DEFAULT_MODELS: Readonly<Record<string, string>> = Object.fromEntries(BUILT_IN_PROVIDERS.map((d) => [d.name, d.defaultModel]));
