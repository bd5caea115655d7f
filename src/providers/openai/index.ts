import type { ProviderDefinition } from '../types.js';
import { createOpenAIProvider } from './client.js';
import { openaiErrors } from './errors.js';
import { openaiUnsupported } from './wire.js';
import { OPENAI_PRICES } from './prices.js';

export { createOpenAIProvider, type OpenAIProviderOptions } from './client.js';
export { openaiErrors } from './errors.js';

/** `openai`: enabled by `OPENAI_API_KEY`, or by `OPENAI_BASE_URL` alone for a local server. */
export const openaiDefinition: ProviderDefinition = {
  name: 'openai',
  defaultModel: 'gpt-4o-mini',
  configVariables: ['OPENAI_API_KEY', 'OPENAI_BASE_URL', 'PROVIDER_TIMEOUT_MS'],
  dialect: 'openai',
  capabilities: ['chat', 'stream', 'json', 'tools', 'vision', 'embed'],
  unsupported: openaiUnsupported,
  errors: openaiErrors,
  modelPrefixes: ['gpt-', 'o1', 'o3', 'o4', 'chatgpt-', 'text-embedding-'],
  prices: OPENAI_PRICES,
  enabled: (config) => Boolean(config.OPENAI_API_KEY || config.OPENAI_BASE_URL),
  create: (config) =>
    createOpenAIProvider({
      timeoutMs: config.PROVIDER_TIMEOUT_MS,
      ...(config.OPENAI_API_KEY && { apiKey: config.OPENAI_API_KEY }),
      ...(config.OPENAI_BASE_URL && { baseURL: config.OPENAI_BASE_URL }),
    }),
};
