/** The providers' public surface: the registry, the built-ins, the call and result types, the retry table. */
export { BUILT_IN_PROVIDERS, DEFAULT_MODELS, PRICING } from './built-in.js';
export { PROVIDER_ERROR_TABLE, ProviderError, toProviderError, type ProviderErrorCode } from './errors.js';
export { priceFor, pricingOf, type PricingOverrides } from './prices.js';
export { ProviderRegistry } from './registry.js';
export type { Provider, ProviderCall, ProviderDefinition } from './types.js';
