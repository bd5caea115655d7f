import type { Config } from '../config/index.js';
import { AppError } from '../errors/app-error.js';
import type { ModelPrice } from '../llm/price.js';
import type { ProviderRegistry } from '../providers/registry.js';

/**
 * The price a generation on `provider`/`model` is admitted at (`ProviderRegistry.price`, the one
 * the worker charges at). With no price, the request is refused with 400 `unknown_model` rather
 * than run as free; with `ALLOW_UNPRICED_MODELS=true` it is admitted unpriced (undefined is
 * returned): its cost is recorded as null and counted as unpriced in `/v1/usage`. A caller under
 * a budget must still refuse an undefined price, since nothing could be reserved for it.
 */
export function admissionPrice(registry: ProviderRegistry, config: Pick<Config, 'ALLOW_UNPRICED_MODELS'>, provider: string, model: string): ModelPrice | undefined {
  const price = registry.price(provider, model);
  if (price || config.ALLOW_UNPRICED_MODELS || registry.get(provider)?.allowsUnpriced) return price;
  const example = `{${JSON.stringify(provider)}:{${JSON.stringify(model)}:{"input":USD/MTok,"output":USD/MTok}}}`;
  throw new AppError(
    'unknown_model',
    `No price is known for ${provider} model ${model}: add it to PRICING_JSON (${example}) or set ALLOW_UNPRICED_MODELS=true.`,
    { provider, model },
  );
}
