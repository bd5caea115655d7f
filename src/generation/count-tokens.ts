import type { Caller } from '../auth/caller.js';
import type { Config } from '../config/index.js';
import { AppError } from '../errors/app-error.js';
import { estimateInputTokens } from '../llm/estimate.js';
import type { GenerationRequest } from '../llm/request.js';
import { ProviderError } from '../providers/errors.js';
import type { ProviderRegistry } from '../providers/registry.js';
import { assertSupported, assertUsable } from './build.js';

/**
 * The input tokens of a request, with nothing admitted, paid or stored: counted by its provider
 * where it can count (Anthropic's free `count_tokens`), else estimated. The same checks as an
 * admission (provider enabled, model allowed, everything in it supported) come first.
 */
export async function countTokens(registry: ProviderRegistry, config: Config, caller: Caller, request: GenerationRequest): Promise<number> {
  assertUsable(registry, config, caller, request.provider, request.model);
  assertSupported(registry, request);
  const client = registry.client(request.provider);
  if (!client?.countTokens) return estimateInputTokens(request);
  const { provider: _provider, ...call } = request;
  try {
    return await client.countTokens(call);
  } catch (err) {
    if (!(err instanceof ProviderError)) throw err;
    if (err.retryable) throw new AppError('generation_failed', `Provider ${request.provider} could not count the tokens (${err.code}); try again.`, { provider: request.provider });
    throw new AppError('bad_request', `Provider ${request.provider} refused to count the tokens: ${err.message}`, { provider: request.provider });
  }
}
