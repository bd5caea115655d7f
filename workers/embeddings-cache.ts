import type { ResultCache } from '../src/cache/result-cache.js';
import type { Completed } from '../src/jobs/ledger.js';
import { embeddingHash, shareTokens } from '../src/llm/hash.js';
import type { GenerationJobData } from '../src/queue/queues.js';
import type { Outcome } from './outcome-stash.js';

/**
 * An embedding job's vectors, cached text by text (POST /v1/embeddings looks each text up before
 * it admits a job for the rest), each with its share of the job's tokens and cost. Never throws:
 * the cache's writes log their own failures.
 */
export async function cacheEmbeddings(cache: ResultCache, d: GenerationJobData, out: Outcome, done: Completed): Promise<void> {
  const task = d.options?.embed;
  const vectors = out.extra?.embeddings;
  if (!task || !vectors || vectors.length !== task.inputs.length || d.cacheTtlSeconds <= 0) return;
  const tokens = shareTokens(task.inputs, out.inputTokens);
  const storedAt = done.completedAt.getTime();
  await Promise.all(task.inputs.map((text, i) => cache.set(embeddingHash(d.provider, d.model, task.dimensions, text, d.projectId), {
    jobId: d.id, result: { text: '', extra: { embeddings: [vectors[i]!] } }, finishReason: 'stop',
    usage: { inputTokens: tokens[i]!, outputTokens: 0, totalTokens: tokens[i]! },
    costUsd: out.inputTokens ? (out.costUsd * tokens[i]!) / out.inputTokens : 0, provider: d.provider, model: d.model, storedAt,
  }, d.cacheTtlSeconds)));
}
