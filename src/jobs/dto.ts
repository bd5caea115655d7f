import type { CachedResult } from '../cache/result-cache.js';
import type { GenerationRow } from '../db/schema.js';
import { messagesOf } from '../llm/stored.js';
import { decodeResult, publicResult, usageOf } from './result-codec.js';

/** A generation as the API shows it; `withPrompt` (`GET /v1/jobs/:id`) adds its system and messages, which lists leave out. */
export function toJobDto(row: GenerationRow, cached = false, withPrompt = false) {
  const done = row.status === 'completed';
  return {
    id: row.id,
    status: row.status,
    templateId: row.templateId,
    templateVersion: row.templateVersion,
    provider: row.provider,
    model: row.model,
    inputHash: row.inputHash,
    apiKeyId: row.apiKeyId,
    ...(withPrompt ? { system: row.system, messages: messagesOf(row), ...(row.requestOptions ? { options: row.requestOptions as Record<string, unknown> } : {}) } : {}),
    ...(row.endUser ? { endUser: row.endUser } : {}),
    ...(row.metadata ? { metadata: row.metadata } : {}),
    attempts: row.attempts,
    priority: row.priority,
    ...(done ? { result: publicResult(decodeResult(row)), finishReason: row.finishReason ?? 'stop', ...(row.responseModel ? { responseModel: row.responseModel } : {}) } : {}),
    ...(row.deployment ? { deployment: row.deployment } : {}),
    ...(row.routeLog?.length ? { route: row.routeLog } : {}),
    ...(row.attempts > 0
      ? {
          usage: usageOf(row),
          // An unpriced model's attempts have no cost to show: null, not a misleading 0.
          costUsd: row.unpriced ? null : row.costUsd,
        }
      : {}),
    ...(row.errorCode ? { error: { code: row.errorCode, message: row.errorMessage ?? '' } } : {}),
    ...(row.traceparent ? { traceId: row.traceparent.split('-')[1]! } : {}),
    cached,
    batchId: row.batchId ?? null,
    createdAt: row.createdAt.toISOString(),
    ...(row.startedAt ? { startedAt: row.startedAt.toISOString() } : {}),
    ...(row.completedAt ? { completedAt: row.completedAt.toISOString() } : {}),
  };
}

export type JobDto = ReturnType<typeof toJobDto>;

/** `completed`, `dead` and `canceled` are final: a job (or its event stream) ends there. */
export const isSettled = (status: string): boolean => status === 'completed' || status === 'dead' || status === 'canceled';

/** A job's outcome as `POST /v1/generate?wait=` and the final job event report it. */
export function jobOutcome(row: GenerationRow) {
  const { status, attempts, result, finishReason, usage, costUsd, error } = toJobDto(row);
  return { jobId: row.id, status, attempts, result, finishReason, usage, costUsd, error };
}

/** The body of an answer from the cache. */
export const hitBody = (v: CachedResult) => ({ jobId: v.jobId, status: 'completed', cached: true, result: publicResult(v.result), finishReason: v.finishReason ?? 'stop' });
