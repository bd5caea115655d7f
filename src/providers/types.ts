import type { Config } from '../config/index.js';
import type { Capability } from '../llm/capabilities.js';
import type { ModelPrice } from '../llm/price.js';
import type { GenerationRequest } from '../llm/request.js';
import type { GenerationResult, RouteStep, StreamDelta } from '../llm/result.js';
import type { ProviderErrorMapping } from './errors.js';

/** One call to a provider: a `GenerationRequest` without its provider, which the caller has already chosen. */
export interface ProviderCall extends Omit<GenerationRequest, 'provider'> {
  /** Aborts the call; the provider then throws a `provider_aborted` `ProviderError` (see `errors.ts`). */
  signal?: AbortSignal;
  /** The job the call is for, and its project (a model group resolves per project). */
  jobId?: string;
  projectId?: string;
  /** A model group's call moved on from a deployment (its timeline). */
  onStep?: (step: RouteStep) => void;
}

/**
 * One LLM backend. `generate` makes exactly one upstream call (no SDK retries: retries
 * belong to the job queue) and throws only `ProviderError` (see `errors.ts`).
 */
export interface Provider {
  readonly name: string;
  generate(call: ProviderCall): Promise<GenerationResult>;
  /**
   * The same call in the provider's streaming mode: `onDelta` gets each piece (text, a tool
   * call's start and arguments, reasoning) as it arrives, in order; the result is the whole
   * answer, as `generate` would return it. A provider without it is streamed as one piece per
   * block, once its whole answer is in.
   */
  stream?(call: ProviderCall, onDelta: (delta: StreamDelta) => void): Promise<GenerationResult>;
  /** Embeds `call.embed.inputs` in one upstream call (or a few, past the provider's batch size); only a provider with the `embed` capability has it. */
  embed?(call: ProviderCall): Promise<GenerationResult>;
  /** The input tokens of a call as the provider counts them (Anthropic's free `count_tokens`); without it they are estimated. */
  countTokens?(call: ProviderCall): Promise<number>;
}

/**
 * Everything PromptLab knows about one provider, declared once in its own folder. The registry,
 * route validation, the API's admission checks and the worker all derive from these.
 */
export interface ProviderDefinition {
  /** Lowercase; what requests, templates, `PRICING_JSON`, `DEFAULT_PROVIDER` and the model lists use. */
  readonly name: string;
  /** The model used when neither the request nor the template names one. */
  readonly defaultModel: string;
  /** The environment variables it reads (documentation and boot messages). */
  readonly configVariables: readonly string[];
  /** The wire format its SDK speaks; `none` for a provider with no SDK. */
  readonly dialect: 'anthropic' | 'openai' | 'none';
  /** What it can do. */
  readonly capabilities: readonly Capability[];
  /**
   * What of a request this provider cannot take (`top_k` where there is none, a document kind it
   * cannot read…), named for a 400 at admission before anything is paid; undefined when it takes all of it.
   */
  unsupported?(request: GenerationRequest): string | undefined;
  /** How its SDK's errors read in the one retry table (`errors.ts`); none for a provider that throws `ProviderError`s itself. */
  readonly errors?: ProviderErrorMapping;
  /**
   * Model names it serves by prefix, for routes that get a model without a provider
   * (`/v1/chat/completions`, `/v1/messages`; see `ProviderRegistry.routeModel`). Its priced models are served too.
   */
  readonly modelPrefixes: readonly string[];
  /** List prices by model, USD per million tokens (`PRICING_JSON` overrides them). */
  readonly prices: Readonly<Record<string, ModelPrice>>;
  /** Model names it serves by their exact name, ahead of every provider's prefixes (the routing document's groups). */
  lists?(model: string): boolean;
  /** Those names, for `GET /v1/models`. */
  listed?(): readonly string[];
  /** Its price for `model` when it is not a table (a group's: the most its deployments can cost). */
  price?(model: string): ModelPrice | undefined;
  /** Its unpriced models are admitted (unpriced, refused where a budget applies) without ALLOW_UNPRICED_MODELS. */
  readonly allowsUnpriced?: boolean;
  /** Whether project `projectId` may use `model` at all (before the key's allow-list); default: yes. */
  allows?(model: string, projectId: string): boolean;
  /** Whether this deployment can call it (its key or base URL is configured). */
  enabled(config: Config): boolean;
  /** The SDK client factory: one `Provider` for the process. */
  create(config: Config): Provider;
}
