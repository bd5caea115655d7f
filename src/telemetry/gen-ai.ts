import type { Attributes } from '@opentelemetry/api';
import type { GenerationRequest } from '../llm/request.js';
import { finishReasonOf, type GenerationResult } from '../llm/result.js';
import type { GenerationJobData } from '../queue/queues.js';

/**
 * The attributes of a provider call span, by the OpenTelemetry GenAI semantic conventions as of
 * semconv 1.37 (Development status; what OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental
 * selects in the official instrumentations: `gen_ai.provider.name`, not the older `gen_ai.system`),
 * plus PromptLab's own. Prompt and completion text only with
 * OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true.
 */
const captureContent = () => process.env.OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT === 'true';

export const operationOf = (r: GenerationRequest): 'chat' | 'embeddings' => (r.embed ? 'embeddings' : 'chat');

export function requestAttributes(d: GenerationJobData, r: GenerationRequest): Attributes {
  return {
    'gen_ai.operation.name': operationOf(r),
    'gen_ai.provider.name': d.provider,
    'gen_ai.request.model': d.model,
    ...(r.params?.maxTokens ? { 'gen_ai.request.max_tokens': r.params.maxTokens } : {}),
    ...(r.params?.temperature !== undefined ? { 'gen_ai.request.temperature': r.params.temperature } : {}),
    'promptlab.job_id': d.id,
    'promptlab.project': d.projectId ?? 'default',
    'promptlab.key_id': d.apiKeyId,
    ...(captureContent() ? { 'gen_ai.input.messages': JSON.stringify(r.system ? [{ role: 'system', content: r.system }, ...r.messages] : r.messages) } : {}),
  };
}

export function responseAttributes(res: GenerationResult, costUsd: number): Attributes {
  return {
    ...(res.model ? { 'gen_ai.response.model': res.model } : {}),
    'gen_ai.usage.input_tokens': res.inputTokens,
    'gen_ai.usage.output_tokens': res.outputTokens,
    ...(res.stopReason ? { 'gen_ai.response.finish_reasons': [finishReasonOf(res.stopReason)] } : {}),
    ...(res.servedBy ? { 'promptlab.deployment': res.servedBy.deployment } : {}),
    'promptlab.cost_usd': costUsd,
    ...(captureContent() ? { 'gen_ai.output.messages': JSON.stringify([{ role: 'assistant', content: res.text }]) } : {}),
  };
}
