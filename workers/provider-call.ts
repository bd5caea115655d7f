import { DEFAULT_PROJECT } from '../src/llm/hash.js';
import { costUsd } from '../src/llm/price.js';
import { requestOf } from '../src/llm/stored.js';
import type { JobEventLog } from '../src/events/job-events.js';
import type { ProviderRegistry } from '../src/providers/registry.js';
import type { Provider } from '../src/providers/types.js';
import type { GenerationJobData } from '../src/queue/queues.js';
import { AttemptFailed } from './failures.js';
import type { Outcome } from './outcome-stash.js';
import type { OutputValidator } from './output-validator.js';

export interface ProviderCallDeps {
  providers: Partial<Record<string, Provider>>;
  /** What each attempt's tokens cost: the registry's one price function (the API admits at the same price). */
  registry: Pick<ProviderRegistry, 'price'>;
  /** Where a streamed attempt's deltas go (GET /v1/jobs/:id/events). */
  events?: JobEventLog;
  /** Checks answers against the template's outputSchema off the event loop, with a deadline. */
  validator: Pick<OutputValidator, 'validate'>;
}

/** One call of a job's provider, and what its answer is worth: the outcome to record, or AttemptFailed. */
export function providerCall(deps: ProviderCallDeps) {
  /** What an attempt's tokens cost; a model with no price (admitted under ALLOW_UNPRICED_MODELS) is unpriced, not free. */
  const cost = (d: GenerationJobData, u: { inputTokens: number; outputTokens: number }) => {
    const price = deps.registry.price(d.provider, d.model);
    return price ? { costUsd: costUsd(u, price) } : { costUsd: 0, unpriced: true };
  };
  /** Calls the provider and checks its answer; throws AttemptFailed (with the tokens paid) when it is unusable. */
  async function ask(d: GenerationJobData, release: () => void, signal?: AbortSignal): Promise<Outcome> {
    const provider = deps.providers[d.provider];
    if (!provider) throw new AttemptFailed('provider_unavailable', d.provider);
    const { provider: _name, ...rest } = requestOf(d);
    const req = signal ? { ...rest, signal } : rest;
    const res = d.stream ? await streamed(provider, req, d) : await provider.generate(req);
    release();
    const usage = { inputTokens: res.inputTokens, outputTokens: res.outputTokens };
    if (res.stopReason === 'refusal') throw new AttemptFailed('provider_refusal', undefined, usage);
    const finishReason = res.stopReason === 'max_tokens' ? 'length' : 'stop';
    // A cut-off answer is an answer (paid for, kept, cached), as the providers themselves return it;
    // only a template's outputSchema, which needs whole JSON, makes it a failure (not worth a paid retry).
    if (finishReason === 'length' && d.outputSchema && d.templateId) throw new AttemptFailed('output_truncated', undefined, usage);
    let json: unknown;
    if (d.outputSchema && finishReason === 'stop') {
      const parsed = await deps.validator.validate(res.text, d.outputSchema, d.projectId ?? DEFAULT_PROJECT);
      if (!parsed.ok) throw new AttemptFailed(parsed.code, parsed.reason, usage);
      json = parsed.json;
    }
    return { text: res.text, json, finishReason, responseModel: res.model, ...usage, ...cost(d, usage) };
  }

  /**
   * The provider called in streaming mode, each piece published as a `delta` event of this
   * attempt, in order (one connection: XADDs land in the order they are sent). A provider
   * without `stream` answers whole, published as one piece.
   */
  async function streamed(provider: Provider, req: Omit<ReturnType<typeof requestOf>, 'provider'>, d: GenerationJobData) {
    const publish = (text: string) => void deps.events?.publish(d.id, 'delta', { text });
    if (provider.stream) return provider.stream(req, publish);
    const res = await provider.generate(req);
    if (res.text) publish(res.text);
    return res;
  }

  return { ask, cost };
}
