import { Type } from 'typebox';
import type { Annotations } from '../generation/request-context.js';
import type { PublicResult } from '../jobs/result-codec.js';
import type { GenerationRequest } from '../llm/request.js';
import { answerBlocks } from '../llm/answer.js';
import type { OutputBlock } from '../llm/message.js';
import type { FinishReason, Usage } from '../llm/result.js';

/** One call in a wire format: its neutral request, the model name to answer with, and what it says about itself. */
export interface WireCall {
  request: GenerationRequest;
  model: string;
  annotations?: Annotations;
}

/** What a compat answer is made of, whichever format renders it. */
export interface CompatAnswer {
  jobId: string;
  model: string;
  text: string;
  /** The answer's blocks (its text as one block when it is only text). */
  blocks: OutputBlock[];
  finishReason: FinishReason;
  /** The tokens the generation used. */
  usage: Usage;
  /** Answered from PromptLab's cache: this request paid for nothing. */
  cached: boolean;
  logprobs?: unknown;
}

const NOTHING: Usage = { inputTokens: 0, outputTokens: 0 };

/**
 * The usage a wire-format answer reports: what this request was charged, so a client's cost
 * tracker counts a cached answer as free (zero), while `promptlab` (`promptlabOf`) says it was cached
 * and carries the usage of the generation that produced it.
 */
export const billedUsage = (a: Pick<CompatAnswer, 'cached' | 'usage'>): Usage => (a.cached ? NOTHING : a.usage);

/** The `promptlab` member every wire-format answer carries: its job, whether it was cached, and the generation's own usage when it was. */
export const promptlabOf = (a: Pick<CompatAnswer, 'jobId' | 'cached' | 'usage'>) => ({
  job_id: a.jobId, cached: a.cached, ...(a.cached ? { usage: { input_tokens: a.usage.inputTokens, output_tokens: a.usage.outputTokens } } : {}),
});

/** A finished job's answer (a generate outcome or a job's outcome) as a compat answer. */
export function compatAnswer(jobId: string, model: string, o: { result: PublicResult; finishReason?: FinishReason | undefined; usage?: Usage | undefined; cached: boolean }): CompatAnswer {
  return {
    jobId, model, text: o.result.text, blocks: answerBlocks(o.result.text, o.result.blocks),
    finishReason: o.finishReason ?? 'stop', usage: o.usage ?? NOTHING, cached: o.cached,
    ...(o.result.logprobs !== undefined ? { logprobs: o.result.logprobs } : {}),
  };
}

/** PromptLab's member of every wire-format answer: its job, whether it came from the cache, and then the generation's own usage. */
export const PromptLabMember = Type.Object({
  job_id: Type.String(),
  cached: Type.Boolean(),
  usage: Type.Optional(Type.Object({ input_tokens: Type.Integer(), output_tokens: Type.Integer() })),
});
