import type OpenAI from 'openai';
import type { GenerationResult } from '../../llm/result.js';
import { guardProviderCall } from '../errors.js';
import type { ProviderCall } from '../types.js';
import { openaiErrors } from './errors.js';

/** Inputs per upstream call: OpenAI takes up to 2048. */
const BATCH = 2048;

/**
 * `call.embed.inputs` embedded by `POST /v1/embeddings`, in calls of up to 2048 inputs, asking
 * for base64 (float32 bytes): what the job keeps, with no float text to parse.
 */
export async function embedWith(client: OpenAI, call: ProviderCall, timeoutMs: number): Promise<GenerationResult> {
  const task = call.embed!;
  const embeddings: string[] = [];
  let tokens = 0;
  let model = call.model;
  for (let i = 0; i < task.inputs.length; i += BATCH) {
    const res = await guardProviderCall(timeoutMs, call.signal, openaiErrors, (signal) => client.embeddings.create({
      model: call.model, input: task.inputs.slice(i, i + BATCH), encoding_format: 'base64',
      ...(task.dimensions !== undefined ? { dimensions: task.dimensions } : {}),
    }, { signal }));
    const data = [...res.data].sort((a, b) => a.index - b.index);
    for (const d of data) embeddings.push(typeof d.embedding === 'string' ? d.embedding : Buffer.from(new Float32Array(d.embedding).buffer).toString('base64'));
    tokens += res.usage?.prompt_tokens ?? 0;
    model = res.model || model;
  }
  return { text: '', embeddings, inputTokens: tokens, outputTokens: 0, stopReason: 'end', model };
}
