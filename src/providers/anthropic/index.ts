import type { ProviderDefinition } from '../types.js';
import { anthropicErrors, createAnthropicProvider } from './client.js';
import { ANTHROPIC_PRICES } from './prices.js';
import { anthropicUnsupported } from './wire.js';

export { anthropicErrors, createAnthropicProvider, type AnthropicProviderOptions } from './client.js';

/** `anthropic`: enabled by `ANTHROPIC_API_KEY`. */
export const anthropicDefinition: ProviderDefinition = {
  name: 'anthropic',
  defaultModel: 'claude-haiku-4-5',
  configVariables: ['ANTHROPIC_API_KEY', 'ANTHROPIC_BASE_URL', 'PROVIDER_TIMEOUT_MS'],
  dialect: 'anthropic',
  capabilities: ['chat', 'stream', 'json', 'tools', 'vision'],
  unsupported: anthropicUnsupported,
  errors: anthropicErrors,
  modelPrefixes: ['claude-'],
  prices: ANTHROPIC_PRICES,
  enabled: (config) => Boolean(config.ANTHROPIC_API_KEY),
  create: (config) =>
    createAnthropicProvider({
      apiKey: config.ANTHROPIC_API_KEY!,
      timeoutMs: config.PROVIDER_TIMEOUT_MS,
      ...(config.ANTHROPIC_BASE_URL && { baseURL: config.ANTHROPIC_BASE_URL }),
    }),
};
