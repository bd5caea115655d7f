import { LRUCache } from 'lru-cache';
import type { Logger } from 'pino';
import { EVERY_PROJECT, homeProject, type Caller } from '../auth/caller.js';
import { cachedFromRow, type CachedResult, type CacheTier, type ResultCache } from '../cache/result-cache.js';
import type { Config } from '../config/index.js';
import { newId } from '../db/ids.js';
import type { GenerationRow } from '../db/schema.js';
import { AppError } from '../errors/app-error.js';
import type { JobEventLog } from '../events/job-events.js';
import { hitBody, isSettled, jobOutcome } from '../jobs/dto.js';
import type { PublicResult } from '../jobs/result-codec.js';
import type { Ledger } from '../jobs/ledger.js';
import { recordCacheLookup, recordCostSaved } from '../metrics/registry.js';
import type { Jobs } from '../jobs/service.js';
import type { ModelPrice } from '../llm/price.js';
import type { ProviderRegistry } from '../providers/registry.js';
import { queueClass, type Fairness } from '../queue/fairness.js';
import type { GenerationJobData, Queues } from '../queue/queues.js';
import type { JobWaiter } from '../queue/waiter.js';
import type { TokenLimiter } from '../ratelimit/tokens.js';
import { worstCaseTokens } from '../llm/estimate.js';
import { worstCaseUsd, type Budgets } from '../spend/budgets.js';
import { admissionPrice } from '../spend/prices.js';
import { templateVariables } from '../templates/render.js';
import type { Templates } from '../templates/service.js';
import type { UsageMeter } from '../usage/meter.js';
import type { Annotations, GenerateContext } from './request-context.js';
import { Enqueuer, type Join } from './enqueue.js';
import { assertSupported, assertTemplateSchema, assertUsable, fromTemplate, templateTarget, variableMismatch, variablesError } from './build.js';
import type { LocalRun, LocalStart } from './local.js';
import { inputHash } from '../llm/hash.js';
import { storedRequest } from '../llm/stored.js';
import type { FinishReason, Usage } from '../llm/result.js';
import { type GenerationRequest } from '../llm/request.js';
import { admissionSpan, traceOf } from './traced.js';
import { linkTrace } from '../telemetry/tracing.js';

export interface GenerateRequest {
  templateId: string;
  variables?: Record<string, unknown>;
  /** Shorthand for the variable `input`. */
  input?: string;
  provider?: string;
  model?: string;
}

export type { GenerateContext } from './request-context.js';

export interface GenerateOutcome {
  status: 200 | 202;
  cache: 'HIT' | 'MISS' | 'BYPASS';
  tier?: CacheTier;
  body: Record<string, unknown> & { jobId: string; status: string; cached: boolean; result?: PublicResult; finishReason?: FinishReason };
  /** Tokens of the answer, when there is one (a hit's are those of the generation that produced it). */
  usage?: Usage & { totalTokens: number };
}

export interface GenerationDeps {
  config: Config;
  registry: ProviderRegistry;
  templates: Templates;
  jobs: Jobs;
  ledger: Ledger;
  cache: ResultCache;
  queues: Queues;
  waiter: JobWaiter;
  meter: UsageMeter;
  budgets: Budgets;
  /** Tokens per window per key (RATE_LIMIT_TPM_*). */
  tokens: TokenLimiter;
  log: Logger;
  /** Where the `queued` event of an admitted job goes (GET /v1/jobs/:id/events). */
  events?: JobEventLog;
  /** Fair order of jobs within a class (BullMQ priorities). */
  fairness: Fairness;
}

/** Builds a request (from a template, or as given), hashes it, answers from cache or admits exactly one job per in-flight input. */
export class Generation {
  /** Key|template pairs a budget applied to lately: their budgets are held before the admission. A hint only: the statement checks. */
  readonly #budgeted = new LRUCache<string, true>({ max: 10_000, ttl: 60_000 });

  readonly #enqueuer: Enqueuer;

  constructor(private readonly deps: GenerationDeps) {
    this.#enqueuer = new Enqueuer(deps);
  }

  /** Lets admissions start their generations on this process's worker (LOCAL_START); returns what stops that. */
  runHere(local: LocalStart): () => void {
    return this.#enqueuer.runHere(local);
  }

  async generate(req: GenerateRequest, ctx: GenerateContext): Promise<GenerateOutcome> {
    const { templates, config } = this.deps;
    const tpl = await templates.get(req.templateId, ctx.caller);
    const variables: Record<string, unknown> = { ...req.variables, ...(req.input !== undefined ? { input: req.input } : {}) };
    const used = templateVariables(tpl);
    const { missing, unknown } = variableMismatch(used, variables);
    if (missing.length || unknown.length) throw variablesError(missing, unknown, used);

    const target = templateTarget(tpl, this.deps.registry, { ...(req.provider ? { provider: req.provider } : {}), ...(req.model ? { model: req.model } : {}) });
    assertUsable(this.deps.registry, config, ctx.caller, target.provider, target.model);
    assertTemplateSchema(tpl);
    const { request, hash } = fromTemplate(tpl, variables, target);
    return admissionSpan(request, hash, () => this.#run(request, { hash, templateId: tpl.id, templateVersion: tpl.version, ttl: tpl.cacheTtlSeconds ?? config.CACHE_TTL_SECONDS, projectId: tpl.projectId }, ctx));
  }

  /**
   * Admits a request not built from a template (the OpenAI- and Anthropic-format routes):
   * the same checks, cache, single flight, holds and wait as `generate`, hashed as `{request}`.
   */
  async generateRequest(request: GenerationRequest, ctx: GenerateContext): Promise<GenerateOutcome> {
    assertUsable(this.deps.registry, this.deps.config, ctx.caller, request.provider, request.model);
    assertSupported(this.deps.registry, request);
    const hash = inputHash(request, undefined, homeProject(ctx.caller));
    return admissionSpan(request, hash, () => this.#run(request, { hash, templateId: null, templateVersion: null, ttl: this.deps.config.CACHE_TTL_SECONDS }, ctx));
  }

  /** Cache lookup, holds, admission and the optional wait: the core every way of building a request goes through. */
  async #run(request: GenerationRequest, origin: Origin, ctx: GenerateContext): Promise<GenerateOutcome> {
    const { config, meter } = this.deps;
    const price = admissionPrice(this.deps.registry, config, request.provider, request.model);
    const { hash, templateId, ttl } = origin;
    const usage = { apiKeyId: ctx.caller.keyId, templateId };

    const cacheState = ctx.bypassCache ? 'BYPASS' : 'MISS';
    if (!ctx.bypassCache) {
      const hit = await this.#lookup(hash, ttl);
      if (hit) {
        meter.record({ ...usage, requests: 1, cacheHits: 1, savedUsd: hit.value.costUsd });
        recordCacheLookup('hit', hit.tier);
        recordCostSaved(hit.value.costUsd, hit.value.provider, hit.value.model);
        return { status: 200, cache: 'HIT', tier: hit.tier, body: hitBody(hit.value), usage: hit.value.usage };
      }
    }
    recordCacheLookup(ctx.bypassCache ? 'bypass' : 'miss', 'none');

    const data: Omit<GenerationJobData, 'id'> = {
      ...storedRequest(request),
      inputHash: hash,
      templateId,
      cacheTtlSeconds: ttl,
      apiKeyId: ctx.caller.keyId,
      projectId: origin.projectId ?? homeProject(ctx.caller),
      requestId: ctx.requestId,
      ...(ctx.bypassCache ? { refresh: true } : {}),
      ...(ctx.stream ? { stream: true } : {}),
      ...traceOf(),
    };
    const id = newId('gen');
    const hold = await this.#hold(ctx.caller, templateId, id, request, price);
    const join: Join = {
      apiKeyId: ctx.caller.keyId,
      priority: queueClass(config, ctx.caller, ctx.priority),
      cancelAt: ctx.cancelAfterMs !== undefined ? new Date(Date.now() + ctx.cancelAfterMs) : null,
    };
    let admitted: Admitted;
    try {
      admitted = await this.#admit({ ...data, ...(hold.tpm ? { tpm: hold.tpm } : {}) }, origin.templateVersion, id, hold.budgets, join, ctx.annotations);
    } catch (err) {
      await hold.release();
      throw err;
    }
    if (!('admitted' in admitted && admitted.admitted)) await hold.release();
    // Counted once answered: a request rejected on the way is not a request of this key's usage.
    if ('hit' in admitted) {
      meter.record({ ...usage, requests: 1, cacheHits: 1, savedUsd: admitted.hit.costUsd });
      return { status: 200, cache: cacheState, tier: 'postgres', body: hitBody(admitted.hit), usage: admitted.hit.usage };
    }
    meter.record({ ...usage, requests: 1 });
    if (ctx.waitMs <= 0) return { status: 202, cache: cacheState, body: { jobId: admitted.id, status: admitted.status, cached: false } };
    const row = await this.settle(admitted.id, ctx.waitMs);
    const outcome = jobOutcome(row);
    return { status: isSettled(row.status) ? 200 : 202, cache: cacheState, body: { ...outcome, cached: false }, ...(outcome.usage ? { usage: outcome.usage } : {}) };
  }

  /** Memory, then Redis; when Redis is unreachable, the completed generation holding the input's slot (Postgres). */
  async #lookup(hash: string, ttl: number): Promise<{ value: CachedResult; tier: CacheTier } | undefined> {
    if (ttl <= 0) return undefined;
    try {
      return await this.deps.cache.get(hash);
    } catch (err) {
      this.deps.log.warn({ err: String(err) }, 'cache unavailable, reading Postgres');
      const answer = await this.deps.ledger.answerOf(hash);
      if (answer?.state !== 'completed') return undefined;
      this.deps.log.info({ key: hash.slice(0, 16), tier: 'postgres' }, 'cache hit');
      return { value: cachedFromRow(answer.row, ttl), tier: 'postgres' };
    }
  }

  /**
   * Holds the worst case in the key's token window (429 otherwise) before anything is written:
   * a 429 costs no Postgres statement. `budgets()` then holds it in every budget the request falls
   * under (402 otherwise); `#admit` calls it only when one applies. `release` gives both back: a
   * request that joins an in-flight generation, finds a fresh result or fails to be admitted holds nothing.
   */
  async #hold(caller: Caller, templateId: string | null, id: string, request: GenerationRequest, price: ModelPrice | undefined) {
    const { tokens, budgets } = this.deps;
    const estimate = worstCaseTokens(request);
    const tpm = await tokens.reserve(caller, id, estimate.inputTokens + estimate.outputTokens);
    let usd = 0;
    const hold = {
      tpm,
      /** Holds the worst case in the budgets; resolves to the USD held (0 when no budget holds it). */
      budgets: async () => {
        const worst = worstCaseUsd(price, request);
        if (await budgets.reserve(caller.keyId, templateId, worst)) usd = worst;
        return usd;
      },
      release: async () => {
        await Promise.all([
          tpm && tokens.release(caller.keyId, tpm),
          usd && budgets.apply({ apiKeyId: caller.keyId, templateId, release: usd, releaseAt: new Date() }),
        ]);
      },
    };
    return hold;
  }

  /**
   * One slot per input hash (`Ledger.admit`): the first request takes it, inserts the row and enqueues
   * (BullMQ job id = row id), or runs it here on a free provider slot (LOCAL_START); the others get what
   * holds the slot: the in-flight job, or a result completed inside its TTL that the cache did not have
   * yet. A row whose enqueue failed stays `queued` and the reconciler enqueues it once Redis is back. The
   * first statement admits `unlessBudgeted` (most requests: one statement); when a budget applies,
   * `holdBudgets` runs (402 when it cannot hold the worst case) and the admission is tried again with
   * what it holds. Keys and templates seen with budgets go to `holdBudgets` first.
   */
  async #admit(
    data: Omit<GenerationJobData, 'id'>, templateVersion: number | null, firstId: string, holdBudgets: () => Promise<number>, join: Join, annotations?: Annotations,
  ): Promise<Admitted> {
    // A provider slot of this process free now: admitted claimed and run here (LOCAL_START); freed unless started.
    const local = this.#enqueuer.reserve();
    try {
      return await this.#admitAs(data, templateVersion, firstId, holdBudgets, join, annotations, local);
    } finally {
      local?.release();
    }
  }

  async #admitAs(
    data: Omit<GenerationJobData, 'id'>, templateVersion: number | null, firstId: string, holdBudgets: () => Promise<number>, join: Join,
    annotations: Annotations | undefined, local: LocalRun | undefined,
  ): Promise<Admitted> {
    const { ledger } = this.deps;
    const scope = `${data.apiKeyId}|${data.templateId ?? ''}`;
    let reservedUsd = this.#budgeted.has(scope) ? await holdBudgets() : undefined;
    for (let i = 0; i < 5; i++) {
      const id = i === 0 ? firstId : newId('gen');
      const got = await ledger.admit({ ...data, ...annotations, id, templateVersion, reservedUsd: reservedUsd ?? 0, ...(reservedUsd === undefined ? { unlessBudgeted: true } : {}), priority: join.priority, ...(join.cancelAt ? { cancelAt: join.cancelAt.getTime() } : {}), claimed: local !== undefined });
      if (got === 'budgeted') {
        this.#budgeted.set(scope, true);
        reservedUsd = await holdBudgets();
        i--; // the same id: nothing was written
        continue;
      }
      if (got) return { id, status: await this.#enqueuer.admitted({ ...data, id }, join, local), admitted: true };
      const answer = await ledger.answerOf(data.inputHash);
      linkTrace(answer?.state === 'in_flight' ? answer.traceparent : answer?.row.traceparent); // answered by another request's generation
      if (answer?.state === 'in_flight') {
        const joined = await ledger.join(answer.id, join.priority, join.cancelAt);
        if (joined?.raised) await this.#enqueuer.raise(answer.id, join);
        return { id: answer.id, status: joined?.status ?? answer.status, admitted: false };
      }
      if (answer) return { hit: cachedFromRow(answer.row, data.cacheTtlSeconds) };
      // The slot opened between the two statements (its generation died): try again.
    }
    throw new AppError('service_unavailable', 'Could not admit the generation; try again.');
  }

  /** Waits up to `ms` for the job to complete or die; returns the row as it then stands. */
  async settle(id: string, ms: number): Promise<GenerationRow> {
    const deadline = Date.now() + ms;
    for (;;) {
      const w = this.deps.waiter.next(id, Math.max(0, deadline - Date.now()));
      const row = await this.deps.jobs.get(id, EVERY_PROJECT);
      if (isSettled(row.status) || Date.now() >= deadline) {
        w.cancel();
        return row;
      }
      await w.promise;
    }
  }
}

/** Where a request came from: its input hash, its template if any, and how long its result is served. */
interface Origin {
  hash: string;
  templateId: string | null;
  templateVersion: number | null;
  ttl: number;
  /** The template's project; else the caller's. */
  projectId?: string;
}

/** An admission's outcome: the generation this request is answered by (its own when `admitted`), or a fresh result. */
type Admitted = { id: string; status: string; admitted: boolean } | { hit: CachedResult };
