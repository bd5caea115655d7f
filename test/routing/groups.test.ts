import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { checkDocument } from '../../src/routing/check.js';
import { parseRouting } from '../../src/routing/parse.js';
import { reply, startFakeLlm, type FakeLlm } from '../fakes/llm-server.js';
import { createTestEnv, type TestEnv } from '../support/context.js';

/**
 * Model groups over several upstreams (fake servers on their own ports, each one deployment),
 * every call counted at the upstream that got it.
 */
let sick: FakeLlm;
let well: FakeLlm;
let spare: FakeLlm;
let t: TestEnv | undefined;
const dir = mkdtempSync(join(tmpdir(), 'routes-'));

beforeAll(async () => {
  [sick, well, spare] = await Promise.all([startFakeLlm(), startFakeLlm(), startFakeLlm()]);
});
afterAll(async () => {
  await Promise.all([sick, well, spare].map((l) => l.close()));
});
afterEach(async () => {
  await t?.close();
  t = undefined;
  for (const l of [sick, well, spare]) l.reset();
});

/** A routing file with `doc` in it, and a test env that loads it (the keys its deployments name set). */
async function envWith(doc: unknown, extra: Record<string, string> = {}) {
  const file = join(dir, `routes-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, JSON.stringify(doc, null, 2));
  t = await createTestEnv({ ROUTES_FILE: file, PROVIDERS_ALLOW_PRIVATE: 'true', SICK_KEY: 'sk-sick', WELL_KEY: 'sk-well', SPARE_KEY: 'sk-spare', ...extra });
  const key = (await t.keyHeader('enterprise')).authorization!.replace(/^Bearer /, '');
  const base = await t.app.listen({ port: 0, host: '127.0.0.1' });
  return new OpenAI({ baseURL: `${base}/v1`, apiKey: key, maxRetries: 0 });
}

const deployment = (name: string, llm: FakeLlm, extra: object = {}) => ({ name, provider: 'openai-compatible', baseUrl: llm.openaiBaseUrl, apiKeyEnv: `${name.toUpperCase()}_KEY`, model: 'up-model', ...extra });
const ask = (client: OpenAI, content: string, model = 'team-gpt') => client.chat.completions.create({ model, messages: [{ role: 'user', content }] });
const jobOf = async (id: string) => (await t!.app.inject({ method: 'GET', url: `/v1/jobs/${id}`, headers: t!.admin })).json();

describe('model groups', () => {
  it('the minimal routing file of the issue loads as written, and team-gpt reaches one of its two deployments', async () => {
    const client = await envWith({
      deployments: [
        { name: 'sick', provider: 'openai-compatible', baseUrl: sick.openaiBaseUrl, apiKeyEnv: 'SICK_KEY', model: 'up-model', weight: 1 },
        { name: 'well', provider: 'openai-compatible', baseUrl: well.openaiBaseUrl, apiKeyEnv: 'WELL_KEY', model: 'up-model', weight: 1 }],
      groups: [{ name: 'team-gpt', deployments: ['sick', 'well'] }],
    });
    t!.worker();
    const answer = await ask(client, 'Hello group');
    expect(answer.choices[0]!.message.content).toContain('fake upstream reply');
    const calls = [...sick.calls, ...well.calls];
    expect(calls).toHaveLength(1);
    expect(calls[0]!.body.model).toBe('up-model');
    expect(calls[0]!.headers.authorization).toMatch(/^Bearer sk-(sick|well)$/);
    expect(await jobOf(answer.id)).toMatchObject({ provider: 'group', model: 'team-gpt', deployment: expect.stringMatching(/^(sick|well)$/) });
    // An unpriced group is admitted (unpriced), and listed among the models.
    const models = await client.models.list();
    expect(models.data.map((m) => m.id)).toContain('team-gpt');
  });

  it('spreads calls by weight (3:1 over 1,000 calls, counted at each upstream, within 5 points)', async () => {
    const client = await envWith({ deployments: [deployment('sick', sick, { weight: 3 }), deployment('well', well, { weight: 1 })], groups: [{ name: 'team-gpt', deployments: ['sick', 'well'] }] });
    t!.worker();
    for (let i = 0; i < 1000; i += 50) await Promise.all(Array.from({ length: 50 }, (_, j) => ask(client, `spread ${i + j}`)));
    expect(sick.calls.length + well.calls.length).toBe(1000);
    expect(sick.calls.length / 1000).toBeGreaterThan(0.70);
    expect(sick.calls.length / 1000).toBeLessThan(0.80);
  }, 60_000);

  it('least-busy prefers the deployment with the most headroom of its account (all workers\' calls in its window)', async () => {
    const client = await envWith({
      deployments: [deployment('sick', sick, { rpm: 10 }), deployment('well', well, { rpm: 1000 })],
      groups: [{ name: 'team-gpt', deployments: ['sick', 'well'], strategy: 'least-busy' }],
    });
    t!.worker();
    for (let i = 0; i < 20; i++) await ask(client, `headroom ${i}`);
    // One call each at most to learn how full each account is (1/10 against 1/1000), then the roomy one.
    expect(sick.calls.length).toBeLessThanOrEqual(1);
    expect(well.calls.length).toBeGreaterThanOrEqual(19);
  });

  it('a 429 moves the next attempts to the other deployment at once, and back after its Retry-After', async () => {
    const client = await envWith({ deployments: [deployment('sick', sick), deployment('well', well)], groups: [{ name: 'team-gpt', deployments: ['sick', 'well'] }] });
    t!.worker();
    sick.setDefault(reply.rateLimited(1));
    const first: OpenAI.Chat.ChatCompletion[] = [];
    for (let i = 0; i < 10; i++) first.push(await ask(client, `during ${i}`));
    expect(first.every((a) => a.choices[0]!.finish_reason === 'stop')).toBe(true);
    // At most one call reached the 429ing deployment: once it answered 429, every attempt went to the other.
    expect(sick.calls.length).toBeLessThanOrEqual(1);
    expect(well.calls.length).toBe(10);
    const moved = (await Promise.all(first.map((a) => jobOf(a.id)))).find((j) => j.route);
    if (sick.calls.length) expect(moved.route[0]).toMatchObject({ deployment: 'sick', outcome: '429', group: 'team-gpt' });
    sick.setDefault(reply.ok());
    sick.calls.length = 0;
    await new Promise((r) => setTimeout(r, 1200));
    await Promise.all(Array.from({ length: 20 }, (_, i) => ask(client, `after ${i}`)));
    expect(sick.calls.length).toBeGreaterThan(0);
  });

  it('a whole group down falls back to its declared group, on the job\'s timeline; one paid success per input', async () => {
    const client = await envWith({
      deployments: [deployment('sick', sick), deployment('well', well), deployment('spare', spare)],
      groups: [{ name: 'team-gpt', deployments: ['sick', 'well'], fallbacks: ['backup'] }, { name: 'backup', deployments: ['spare'] }],
    });
    t!.worker();
    sick.setDefault(reply.serverError(503));
    well.setDefault(reply.serverError(500));
    const answer = await ask(client, 'all down');
    expect(answer.choices[0]!.finish_reason).toBe('stop');
    expect(spare.calls).toHaveLength(1);
    const job = await jobOf(answer.id);
    expect(job).toMatchObject({ deployment: 'spare', attempts: 1 });
    expect(job.route.map((s: { deployment: string; outcome: string }) => [s.deployment, s.outcome]).sort()).toEqual([['sick', '5xx'], ['well', '5xx']]);
    const events = await t!.app.inject({ method: 'GET', url: `/v1/jobs/${answer.id}/events`, headers: t!.admin });
    expect(events.body.match(/event: failover/g)).toHaveLength(2);
  });

  it('a context-window error moves to the group declared for long inputs', async () => {
    const client = await envWith({
      deployments: [deployment('sick', sick), deployment('spare', spare)],
      groups: [{ name: 'team-gpt', deployments: ['sick'], contextFallback: 'long' }, { name: 'long', deployments: ['spare'] }],
    });
    t!.worker();
    sick.setDefault(reply.error(400, "This model's maximum context length is 8192 tokens (context_length_exceeded)"));
    const answer = await ask(client, 'x '.repeat(50));
    expect((await jobOf(answer.id)).route[0]).toMatchObject({ deployment: 'sick', outcome: 'context' });
    expect(spare.calls).toHaveLength(1);
  });

  it("the realistic routing file of docs/routing.md is a valid document: its one private upstream needs PROVIDERS_ALLOW_PRIVATE", async () => {
    const page = readFileSync(new URL('../../docs/routing.md', import.meta.url), 'utf8');
    const yaml = page.match(/```yaml\n([\s\S]*?)```/)![1]!;
    const parsed = parseRouting(yaml, 'docs/routing.md');
    if (!('doc' in parsed)) throw new Error(parsed.problem);
    const env = { OPENAI_KEY_A: 'a', OPENAI_KEY_B: 'b', AZURE_OPENAI_KEY: 'c', ANTHROPIC_KEY: 'd', GEMINI_KEY: 'e' };
    expect(await checkDocument(parsed.doc, { env, allowPrivate: true })).toEqual([]);
    expect(await checkDocument(parsed.doc, { env, allowPrivate: false })).toEqual([expect.stringMatching(/^deployment lab-vllm: .*PROVIDERS_ALLOW_PRIVATE=true/)]);
    expect(await checkDocument(parsed.doc, { env: { ...env, GEMINI_KEY: undefined }, allowPrivate: true })).toEqual(['routes: deployment gemini-long names apiKeyEnv GEMINI_KEY, which is not set']);
  });

  it('an invalid routing file stops the boot with one line naming the file, the line and the problem', async () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'deployments:\n  - name: a\n    provider: openai-compatible\n    model: m\n    baseUrl: http://127.0.0.1:1/v1\n    wieght: 2\ngroups: []\n');
    await expect(createTestEnv({ ROUTES_FILE: file, PROVIDERS_ALLOW_PRIVATE: 'true' })).rejects.toThrow(/^ROUTES_FILE .*bad\.yaml line 2: \/deployments\/0 has unknown field "wieght"$/);
    const refs = join(dir, 'refs.json');
    writeFileSync(refs, JSON.stringify({ deployments: [], groups: [{ name: 'g', deployments: ['nowhere'] }] }));
    await expect(createTestEnv({ ROUTES_FILE: refs })).rejects.toThrow('group g names deployment "nowhere", which is not declared');
    const priv = join(dir, 'private.json');
    writeFileSync(priv, JSON.stringify({ deployments: [{ name: 'local', provider: 'openai-compatible', baseUrl: 'http://127.0.0.1:8001/v1', model: 'm' }], groups: [] }));
    await expect(createTestEnv({ ROUTES_FILE: priv })).rejects.toThrow(/deployment local: 127\.0\.0\.1 resolves to a private, loopback or link-local address; set PROVIDERS_ALLOW_PRIVATE=true/);
  });
});
