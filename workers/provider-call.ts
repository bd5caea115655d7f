import { stage } from '../src/telemetry/stages.js';
import { answerBlocks, deltasOf, extraBlocks } from '../src/llm/answer.js';
import { DEFAULT_PROJECT } from '../src/llm/hash.js';
import { costUsd, type ModelPrice } from '../src/llm/price.js';
import { finishReasonOf, type GenerationResult, type RouteStep, type StreamDelta, type Usage } from '../src/llm/result.js';
import { requestOf } from '../src/llm/stored.js';
import { deltaEventData } from '../src/events/deltas.js';
import type { JobEventLog } from '../src/events/job-events.js';
import type { ProviderRegistry } from '../src/providers/registry.js';
import type { Provider, ProviderCall } from '../src/providers/types.js';
import type { GenerationJobData } from '../src/queue/queues.js';
import { AttemptFailed } from './failures.js';
import type { Outcome } from './outcome-stash.js';
import type { OutputValidator } from './output-validator.js';
import { SpanKind } from '@opentelemetry/api';
import { operationOf, requestAttributes, responseAttributes } from '../src/telemetry/gen-ai.js';
import { traced } from '../src/telemetry/tracing.js';

export interface ProviderCallDeps {
  providers: Partial<Record<string, Provider>>;
  /** What each attempt's tokens cost (the API admits at the same price), and the clients of providers known at run time (model groups). */
  registry: Pick<ProviderRegistry, 'price' | 'client'>;
  /** A model group's call moved on from a deployment: kept on the row (its timeline). */
  noteRoute?: (jobId: string, step: RouteStep) => Promise<void>;
  /** Where a streamed attempt's deltas go (GET /v1/jobs/:id/events). */
  events?: JobEventLog;
  /** Checks answers against the template's outputSchema off the event loop, with a deadline. */
  validator: Pick<OutputValidator, 'validate'>;
}

/** Only the usage figures of a result (never its text). */
const usageOfResult = (r: Usage): Usage => ({
  inputTokens: r.inputTokens, outputTokens: r.outputTokens,
  ...(r.cacheReadTokens ? { cacheReadTokens: r.cacheReadTokens } : {}),
  ...(r.cacheWriteTokens ? { cacheWriteTokens: r.cacheWriteTokens } : {}),
  ...(r.reasoningTokens ? { reasoningTokens: r.reasoningTokens } : {}),
});

/** One call of a job's provider, and what its answer is worth: the outcome to record, or AttemptFailed. */
export function providerCall(deps: ProviderCallDeps) {
  /** What an attempt's tokens cost; a model with no price (admitted under ALLOW_UNPRICED_MODELS) is unpriced, not free. */
  /** The price an attempt is charged at: the deployment's that answered a model group's call, else the registry's for the job's model. */
  const priceOf = (d: GenerationJobData, res?: GenerationResult): ModelPrice | undefined =>
    (res?.servedBy ? res.servedBy.price : deps.registry.price(d.provider, d.model));
  const cost = (d: GenerationJobData, u: Usage, res?: GenerationResult) => {
    const price = priceOf(d, res);
    return price ? { costUsd: costUsd(u, price) } : { costUsd: 0, unpriced: true };
  };

  /** Calls the provider and checks its answer; throws AttemptFailed (with the tokens paid) when it is unusable. */
  async function ask(d: GenerationJobData, release: () => void, signal?: AbortSignal): Promise<Outcome> {
    const provider = deps.providers[d.provider] ?? deps.registry.client(d.provider);
    if (!provider) throw new AttemptFailed('provider_unavailable', d.provider);
    const request = requestOf(d);
    const { provider: _name, ...rest } = request;
    const steps: Promise<void>[] = [];
    const req: ProviderCall = {
      ...rest, jobId: d.id, projectId: d.projectId ?? DEFAULT_PROJECT, ...(signal ? { signal } : {}),
      onStep: (step) => {
        void deps.events?.publish(d.id, 'failover', { ...step });
        if (deps.noteRoute) steps.push(deps.noteRoute(d.id, step).catch(() => {}));
      },
    };
    const res = await traced(() => [`${operationOf(request)} ${d.model}`, requestAttributes(d, request)], async (span) => {
      const r = await call(provider, req, d);
      span?.setAttributes(responseAttributes(r, cost(d, usageOfResult(r), r).costUsd));
      return r;
    }, SpanKind.CLIENT).finally(() => Promise.all(steps));
    release();
    const usage = usageOfResult(res);
    const finishReason = finishReasonOf(res.stopReason);
    const template = d.outputSchema !== null && d.templateId !== null;
    // A template's outputSchema promises JSON: a refusal or a cut-off answer is then a failure (not
    // worth a paid retry). Anywhere else they are answers (paid for, kept, cached), as the providers return them.
    if ((finishReason === 'refusal' || finishReason === 'content_filter') && template) throw new AttemptFailed('provider_refusal', undefined, usage);
    if (finishReason === 'length' && template) throw new AttemptFailed('output_truncated', undefined, usage);
    let json: unknown;
    if (d.outputSchema && finishReason === 'stop') {
      const parsed = await deps.validator.validate(res.text, d.outputSchema, d.projectId ?? DEFAULT_PROJECT);
      if (!parsed.ok) throw new AttemptFailed(parsed.code, parsed.reason, usage);
      json = parsed.json;
    }
    const blocks = res.blocks && extraBlocks(res.blocks);
    const extra = {
      ...(blocks ? { blocks } : {}),
      ...(res.logprobs !== undefined ? { logprobs: res.logprobs } : {}),
      ...(res.embeddings ? { embeddings: res.embeddings } : {}),
    };
    return {
      text: res.text, json, finishReason, responseModel: res.model, ...usage, ...cost(d, usage, res),
      ...(Object.keys(extra).length ? { extra } : {}), ...(res.servedBy ? { deployment: res.servedBy.deployment } : {}),
    };
  }

  /**
   * The provider called as the job asks: an embedding, or an answer, in streaming mode when a
   * caller streams it (each piece published as a `delta` event of this attempt, in order: one
   * connection, so XADDs land in the order they are sent). A provider without `stream` answers
   * whole, published block by block.
   */
  async function call(provider: Provider, req: ProviderCall, d: GenerationJobData): Promise<GenerationResult> {
    if (req.embed) {
      if (!provider.embed) throw new AttemptFailed('provider_unavailable', `${d.provider} does not embed`);
      return provider.embed(req);
    }
    if (!d.stream) return provider.generate(req);
    stage(d.id, 'calling');
    const publish = (delta: StreamDelta) => {
      stage(d.id, 'delta');
      void deps.events?.publish(d.id, 'delta', deltaEventData(delta));
    };
    if (provider.stream) return provider.stream(req, publish);
    const res = await provider.generate(req);
    for (const delta of deltasOf(answerBlocks(res.text, res.blocks), 1)) publish(delta);
    return res;
  }

  return { ask, cost };
}
