import type { Logger } from 'pino';
import { EVERY_PROJECT, homeProject } from '../auth/caller.js';
import type { ResultCache } from '../cache/result-cache.js';
import type { Config } from '../config/index.js';
import { AppError } from '../errors/app-error.js';
import type { GenerateContext } from '../generation/request-context.js';
import type { Generation } from '../generation/service.js';
import { failedGenerationError } from '../jobs/failed-answer.js';
import { decodeResult } from '../jobs/result-codec.js';
import type { Jobs } from '../jobs/service.js';
import { embeddingHash } from '../llm/hash.js';
import type { GenerationRequest } from '../llm/request.js';
import type { UsageMeter } from '../usage/meter.js';

export interface EmbeddingsDeps {
  config: Config;
  cache: ResultCache;
  generation: Pick<Generation, 'generateRequest'>;
  jobs: Pick<Jobs, 'get'>;
  meter: UsageMeter;
  log: Logger;
}

/** What to embed: texts of one provider's model, at some dimensions. */
export interface EmbeddingAsk {
  provider: string;
  model: string;
  inputs: string[];
  dimensions?: number;
}

/** The vectors, one per input in order (base64 of little-endian float32s), and what this request paid for. */
export interface Embedded {
  vectors: string[];
  /** The input tokens paid for now: the texts no cache entry answered. */
  paidTokens: number;
  /** The job that embedded the texts the cache did not have; none when the cache had them all. */
  jobId?: string;
  /** Texts answered from the cache. */
  cached: number;
  /** The job that embedded the first text (this request's, or an earlier one's the cache kept). */
  firstJobId: string;
}

/**
 * Embeddings through the same core as generations. Each text is looked up in the result cache on
 * its own (`embeddingHash`); the texts none answers are embedded by one job (one input hash for
 * the set, so identical concurrent requests share it; budgets, the token window, retries, usage and
 * the dead-letter queue as for any job), held until it completes; its worker caches each text's
 * vector. An array of ten texts of which nine are cached pays for one.
 */
export class Embeddings {
  constructor(private readonly deps: EmbeddingsDeps) {}

  async embed(ask: EmbeddingAsk, ctx: GenerateContext): Promise<Embedded> {
    const project = homeProject(ctx.caller);
    const keys = ask.inputs.map((t) => embeddingHash(ask.provider, ask.model, ask.dimensions, t, project));
    const found = await Promise.all(keys.map((k) => this.#lookup(k)));
    const vectors: (string | undefined)[] = found.map((f) => f?.result.extra?.embeddings?.[0]);
    const missing = [...new Set(ask.inputs.filter((_, i) => vectors[i] === undefined))];
    const cached = vectors.filter((v) => v !== undefined).length;
    if (!missing.length) {
      this.deps.meter.record({ apiKeyId: ctx.caller.keyId, templateId: null, requests: 1, cacheHits: 1, savedUsd: found.reduce((n, f) => n + (f?.costUsd ?? 0), 0) });
      return { vectors: vectors as string[], paidTokens: 0, cached, firstJobId: found[0]!.jobId };
    }
    const request: GenerationRequest = {
      provider: ask.provider, model: ask.model, messages: [], params: { maxTokens: 0 },
      embed: { inputs: missing, ...(ask.dimensions !== undefined ? { dimensions: ask.dimensions } : {}) },
    };
    const o = await this.deps.generation.generateRequest(request, ctx);
    const { jobId, status } = o.body;
    if (status === 'dead' || status === 'canceled') throw failedGenerationError(jobId, o.body.error as { code: string; message: string } | undefined, { jobId });
    if (status !== 'completed') throw new AppError('generation_timeout', `Embedding job ${jobId} did not finish within ${ctx.waitMs / 1000} s; it goes on: GET /v1/jobs/${jobId}.`, { jobId });
    const row = await this.deps.jobs.get(jobId, EVERY_PROJECT);
    const made = decodeResult(row).extra?.embeddings ?? [];
    const byText = new Map(missing.map((t, i) => [t, made[i]]));
    const out = ask.inputs.map((t, i) => vectors[i] ?? byText.get(t));
    if (out.some((v) => v === undefined)) throw new AppError('internal_error', `Embedding job ${jobId} returned fewer vectors than texts.`, { jobId });
    return { vectors: out as string[], paidTokens: o.body.cached ? 0 : row.inputTokens, jobId, cached, firstJobId: found[0]?.jobId ?? jobId };
  }

  /** A text's cached vector; a cache that cannot answer counts as a miss (the job then embeds it). */
  async #lookup(key: string) {
    try {
      return (await this.deps.cache.get(key))?.value;
    } catch (err) {
      this.deps.log.warn({ err: String(err) }, 'embedding cache unavailable; embedding the text');
      return undefined;
    }
  }
}
