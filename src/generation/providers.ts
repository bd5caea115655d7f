import type { Config } from '../config/index.js';
import { DEFAULT_MODELS } from '../providers/index.js';
import type { ProviderName } from '../providers/types.js';

/** Providers this deployment can call: anthropic with a key, openai with a key or a base URL, fake always. */
export function availableProviders(config: Config): Set<ProviderName> {
  const set = new Set<ProviderName>(['fake']);
  if (config.ANTHROPIC_API_KEY) set.add('anthropic');
  if (config.OPENAI_API_KEY || config.OPENAI_BASE_URL) set.add('openai');
  return set;
}

/** DEFAULT_PROVIDER, else anthropic, else openai, else fake, by what is configured. */
export function defaultProvider(config: Config): ProviderName {
  if (config.DEFAULT_PROVIDER) return config.DEFAULT_PROVIDER as ProviderName;
  const set = availableProviders(config);
  return set.has('anthropic') ? 'anthropic' : set.has('openai') ? 'openai' : 'fake';
}

export const defaultModel = (p: ProviderName): string => DEFAULT_MODELS[p];
