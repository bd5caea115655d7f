import type { ResponseFormat } from '../llm/request.js';

/**
 * The system prompt to send for a call: its own system prompt plus, when `responseFormat` is
 * set, an instruction to answer with JSON only. Put in the prompt rather than in a provider's
 * structured-output option because OpenAI-compatible servers differ there.
 */
export function systemPromptFor(call: { system?: string | undefined; responseFormat?: ResponseFormat }): string | undefined {
  if (!call.responseFormat) return call.system;
  const instruction =
    'Answer with only a JSON value that conforms to the following JSON Schema. ' +
    'Do not wrap it in Markdown code fences and do not add any other text.\n' +
    `JSON Schema:\n${JSON.stringify(call.responseFormat.schema, null, 2)}`;
  return call.system ? `${call.system}\n\n${instruction}` : instruction;
}
