import type { GenerationRow } from '../db/schema.js';
import { decodeResult } from './result-codec.js';

/** A generation as the API shows it (`GET /v1/jobs/:id`). */
export function toJobDto(row: GenerationRow, cached = false) {
  const done = row.status === 'completed';
  return {
    id: row.id,
    status: row.status,
    templateId: row.templateId,
    templateVersion: row.templateVersion,
    provider: row.provider,
    model: row.model,
    inputHash: row.inputHash,
    attempts: row.attempts,
    ...(done ? { result: decodeResult(row) } : {}),
    ...(row.attempts > 0
      ? {
          usage: { inputTokens: row.inputTokens, outputTokens: row.outputTokens, totalTokens: row.inputTokens + row.outputTokens },
          // An unpriced model's attempts have no cost to show: null, not a misleading 0.
          costUsd: row.unpriced ? null : row.costUsd,
        }
      : {}),
    ...(row.errorCode ? { error: { code: row.errorCode, message: row.errorMessage ?? '' } } : {}),
    cached,
    batchId: row.batchId ?? null,
    createdAt: row.createdAt.toISOString(),
    ...(row.startedAt ? { startedAt: row.startedAt.toISOString() } : {}),
    ...(row.completedAt ? { completedAt: row.completedAt.toISOString() } : {}),
  };
}

export type JobDto = ReturnType<typeof toJobDto>;

/** `completed` and `dead` are final: a job (or its event stream) ends there. */
export const isSettled = (status: string): boolean => status === 'completed' || status === 'dead';

/** A job's outcome as `POST /v1/generate?wait=` and the final job event report it. */
export function jobOutcome(row: GenerationRow) {
  const { status, attempts, result, usage, costUsd, error } = toJobDto(row);
  return { jobId: row.id, status, attempts, result, usage, costUsd, error };
}
