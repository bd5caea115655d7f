import { eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { generations } from '../../src/db/schema.js';
import { inputHash } from '../../src/llm/hash.js';
import { systemText, type GenerationRequest } from '../../src/llm/request.js';
import { jobDataOf } from '../../src/queue/dead-letters.js';
import { tailPriority } from '../../src/queue/fairness.js';
import { llmEnvPerTest } from '../support/llm-env.js';
import { waitForStatus } from '../support/jobs.js';

/** A request not built from a template, straight at the ledger and the queue (no route builds one yet). */
const e = llmEnvPerTest({ ANTHROPIC_API_KEY: 'sk-ant-test' });

const request: GenerationRequest = {
  provider: 'anthropic', model: 'claude-haiku-4-5', system: 'Be brief.',
  messages: [{ role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Hello.' }, { role: 'user', content: 'Name a colour.' }],
  params: { maxTokens: 20, temperature: 0.1, topP: 0.9, stop: ['END'] },
};

async function admitAndRun(id: string, r: GenerationRequest, before?: () => Promise<void>) {
  const { ledger } = e.t.app.svc;
  const admitted = await ledger.admit({
    id, inputHash: inputHash(r), templateId: null, templateVersion: null, provider: r.provider, model: r.model, system: systemText(r.system) ?? null,
    messages: r.messages, maxTokens: r.params.maxTokens, temperature: r.params.temperature ?? null, topP: r.params.topP ?? null,
    stop: r.params.stop ?? null, outputSchema: null, cacheTtlSeconds: 60, apiKeyId: 'key_x',
  });
  expect(admitted).toBe(true);
  await before?.();
  const [row] = await e.t.database.db.select().from(generations).where(eq(generations.id, id));
  e.t.worker();
  await e.t.queues.generation.add('generate', jobDataOf(row!), e.t.queues.jobOptions(id, tailPriority(row!.priority)));
  return waitForStatus(e.t.app, e.t.admin, id, ['completed', 'dead']);
}

describe('a generation without a template', () => {
  it('sends every message, the system and the params, stores them, and is counted under no template', async () => {
    const job = await admitAndRun('gen_neutral1', request);
    expect(job).toMatchObject({ status: 'completed', templateId: null, templateVersion: null });
    expect(e.llm.calls).toHaveLength(1);
    expect(e.llm.calls[0]!.body).toMatchObject({
      system: 'Be brief.', messages: request.messages, max_tokens: 20, temperature: 0.1, top_p: 0.9, stop_sequences: ['END'],
    });
    const [row] = await e.t.database.db.select().from(generations).where(eq(generations.id, 'gen_neutral1'));
    expect(row).toMatchObject({ messages: request.messages, topP: 0.9, stop: ['END'], prompt: 'user: Hi\nassistant: Hello.\nuser: Name a colour.' });
    const usage = (await e.t.app.inject({ method: 'GET', url: '/v1/usage', headers: e.t.admin })).json();
    expect(usage.byTemplate).toEqual([expect.objectContaining({ templateId: null, inputTokens: job.usage.inputTokens })]);
  });

  it('a row older than the messages column runs with its prompt as the one user message', async () => {
    const one: GenerationRequest = { ...request, messages: [{ role: 'user', content: 'Name a shape.' }], params: { maxTokens: 20 } };
    const job = await admitAndRun('gen_neutral2', one, async () => {
      await e.t.database.db.update(generations).set({ messages: null }).where(eq(generations.id, 'gen_neutral2'));
    });
    expect(job.status).toBe('completed');
    expect(e.llm.calls[0]!.body).toMatchObject({ messages: [{ role: 'user', content: 'Name a shape.' }] });
  });
});
