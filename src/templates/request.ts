import type { TemplateRow } from '../db/schema.js';
import type { GenerationRequest } from '../llm/request.js';
import { render } from './render.js';

/** The template's settings, rendered: its system, its body as the one user message, its params and outputSchema. */
export function templateRequest(
  tpl: Pick<TemplateRow, 'body' | 'system' | 'maxTokens' | 'temperature' | 'outputSchema'>,
  variables: Record<string, unknown>,
  target: { provider: string; model: string; defaultMaxTokens: number },
): GenerationRequest {
  return {
    provider: target.provider,
    model: target.model,
    ...(tpl.system ? { system: render(tpl.system, variables) } : {}),
    messages: [{ role: 'user', content: render(tpl.body, variables) }],
    params: { maxTokens: tpl.maxTokens ?? target.defaultMaxTokens, ...(tpl.temperature != null ? { temperature: tpl.temperature } : {}) },
    ...(tpl.outputSchema ? { responseFormat: { type: 'json_schema', schema: tpl.outputSchema } } : {}),
  };
}

