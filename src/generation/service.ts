import { and, desc, eq, gt, inArray } from 'drizzle-orm';
import type { Logger } from 'pino';
import type { Caller } from '../auth/caller.js';
import { cachedFromRow, type CachedResult, type ResultCache } from '../cache/result-cache.js';
import type { Config } from '../config/index.js';
import type { Db } from '../db/client.js';
import { newId } from '../db/ids.js';
import { generations, IN_FLIGHT, type GenerationRow } from '../db/schema.js';
import { AppError } from '../errors/app-error.js';
import { toJobDto } from '../jobs/dto.js';
import type { Ledger } from '../jobs/ledger.js';
import type { Jobs } from '../jobs/service.js';
import type { ProviderName } from '../providers/types.js';
import type { GenerationJobData, Queues } from '../queue/queues.js';
import type { JobWaiter } from '../queue/waiter.js';
import { placeholders, render } from '../templates/render.js';
import type { Templates } from '../templates/service.js';
import { inputHash } from './hash.js';
import { availableProviders, defaultModel, defaultProvider } from './providers.js';

export interface GenerateRequest {
  templateId: string;
  variables?: Record<string, unknown>;
  /** Shorthand for the variable `input`. */
  input?: string;
  provider?: ProviderName;
  model?: string;
}

export interface GenerateContext {
  caller: Caller;
  requestId: string;
  /** `Cache-Control: no-cache`: skip the lookup; the new result refreshes the cache. */
  bypassCache: boolean;
  /** `?wait=` in ms; 0 answers at once. */
  waitMs: number;
}

export interface GenerateOutcome {
  status: 200 | 202;
  cache: 'HIT' | 'MISS' | 'BYPASS';
  body: Record<string, unknown> & { jobId: string; status: string; cached: boolean };
}

export interface GenerationDeps {
  config: Config;
  db: Db;
  templates: Templates;
  jobs: Jobs;
  ledger: Ledger;
  cache: ResultCache;
  queues: Queues;
  waiter: JobWaiter;
  log: Logger;
}

const DEFAULT_MAX_TOKENS = 1024;

/** POST /v1/generate: render, hash, answer from cache or admit exactly one job per in-flight input. */
export class Generation {
  readonly #available: Set<ProviderName>;

  constructor(private readonly deps: GenerationDeps) {
    this.#available = availableProviders(deps.config);
  }

  async generate(req: GenerateRequest, ctx: GenerateContext): Promise<GenerateOutcome> {
    const { templates, config } = this.deps;
    const tpl = await templates.get(req.templateId);
    const variables: Record<string, unknown> = { ...req.variables, ...(req.input !== undefined ? { input: req.input } : {}) };
    const used = placeholders(tpl.body, tpl.system);
    const missing = used.filter((n) => !(n in variables));
    if (missing.length) throw new AppError('missing_variables', `Missing template variables: ${missing.join(', ')}.`, { missing });
    const unknown = Object.keys(variables).filter((n) => !used.includes(n));
    if (unknown.length) throw new AppError('unknown_variables', `The template does not use: ${unknown.join(', ')}.`, { unknown });

    const provider = req.provider ?? tpl.provider ?? defaultProvider(config);
    if (!this.#available.has(provider)) throw new AppError('provider_unavailable', `Provider ${provider} is not configured here.`, { provider });
    const model = req.model ?? (tpl.provider === provider && tpl.model ? tpl.model : defaultModel(provider));
    const params = { maxTokens: tpl.maxTokens ?? DEFAULT_MAX_TOKENS, temperature: tpl.temperature ?? null };
    const keyVars = tpl.keyFields ? Object.fromEntries(tpl.keyFields.map((k) => [k, variables[k]])) : variables;
    const hash = inputHash({ templateId: tpl.id, templateVersion: tpl.version, provider, model, params, variables: keyVars });
    const ttl = tpl.cacheTtlSeconds ?? config.CACHE_TTL_SECONDS;

    const cacheState = ctx.bypassCache ? 'BYPASS' : 'MISS';
    if (!ctx.bypassCache) {
      const hit = await this.#lookup(hash, ttl);
      if (hit) return { status: 200, cache: 'HIT', body: { jobId: hit.jobId, status: 'completed', cached: true, result: hit.result } };
    }

    const data: Omit<GenerationJobData, 'id'> = {
      inputHash: hash,
      templateId: tpl.id,
      provider,
      model,
      system: tpl.system ? render(tpl.system, variables) : null,
      prompt: render(tpl.body, variables),
      maxTokens: params.maxTokens,
      temperature: params.temperature,
      outputSchema: tpl.outputSchema ?? null,
      cacheTtlSeconds: ttl,
      apiKeyId: ctx.caller.keyId,
      requestId: ctx.requestId,
    };
    const admitted = await this.#admit(data, tpl.version);
    if ('hit' in admitted) return { status: 200, cache: cacheState, body: { jobId: admitted.hit.jobId, status: 'completed', cached: true, result: admitted.hit.result } };
    if (ctx.waitMs <= 0) return { status: 202, cache: cacheState, body: { jobId: admitted.id, status: admitted.status, cached: false } };
    const row = await this.settle(admitted.id, ctx.waitMs);
    const settled = row.status === 'completed' || row.status === 'dead';
    return { status: settled ? 200 : 202, cache: cacheState, body: settledBody(row) };
  }

  /** Redis first; when Redis is unreachable, the newest completed row still inside the TTL. */
  async #lookup(hash: string, ttl: number): Promise<CachedResult | undefined> {
    if (ttl <= 0) return undefined;
    try {
      return await this.deps.cache.get(hash);
    } catch (err) {
      this.deps.log.warn({ err: String(err) }, 'cache unavailable, reading Postgres');
      const [row] = await this.deps.db
        .select()
        .from(generations)
        .where(and(eq(generations.inputHash, hash), eq(generations.status, 'completed'), gt(generations.completedAt, new Date(Date.now() - ttl * 1000))))
        .orderBy(desc(generations.completedAt))
        .limit(1);
      return row ? cachedFromRow(row) : undefined;
    }
  }

  /**
   * One in-flight row per input hash (a partial unique index): the first
   * request inserts and enqueues (BullMQ job id = row id), the others read the
   * winner's id. A row whose enqueue failed stays `queued` and the worker's
   * sweeper enqueues it once Redis is back, so an admitted job is never lost.
   */
  async #admit(data: Omit<GenerationJobData, 'id'>, templateVersion: number): Promise<{ id: string; status: string } | { hit: CachedResult }> {
    const { db, queues, log } = this.deps;
    for (let i = 0; i < 5; i++) {
      const id = newId('gen');
      if (await this.deps.ledger.admit({ ...data, id, templateVersion, status: 'queued' })) {
        await queues.generation.add('generate', { ...data, id }, queues.jobOptions(id)).catch((err) => {
          log.error({ err: String(err), jobId: id }, 'enqueue failed; the sweeper will enqueue the job when Redis is back');
        });
        return { id, status: 'queued' };
      }
      const [existing] = await db
        .select({ id: generations.id, status: generations.status })
        .from(generations)
        .where(and(eq(generations.inputHash, data.inputHash), inArray(generations.status, [...IN_FLIGHT])));
      if (existing) return existing;
      // The in-flight twin settled between our insert and select: use its result if it completed.
      const [done] = await db.select().from(generations)
        .where(and(eq(generations.inputHash, data.inputHash), eq(generations.status, 'completed')))
        .orderBy(desc(generations.completedAt)).limit(1);
      if (done && data.cacheTtlSeconds > 0 && done.completedAt && done.completedAt.getTime() > Date.now() - 5000) return { hit: cachedFromRow(done) };
    }
    throw new AppError('service_unavailable', 'Could not admit the generation; try again.');
  }

  /** Waits up to `ms` for the job to complete or die; returns the row as it then stands. */
  async settle(id: string, ms: number): Promise<GenerationRow> {
    const deadline = Date.now() + ms;
    for (;;) {
      const w = this.deps.waiter.next(id, Math.max(0, deadline - Date.now()));
      const row = await this.deps.jobs.get(id);
      if (row.status === 'completed' || row.status === 'dead' || Date.now() >= deadline) {
        w.cancel();
        return row;
      }
      await w.promise;
    }
  }
}

function settledBody(row: GenerationRow) {
  const { result, usage, costUsd, error } = toJobDto(row);
  return { jobId: row.id, status: row.status, cached: false, result, usage, costUsd, error };
}
