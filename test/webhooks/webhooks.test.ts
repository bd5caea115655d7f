import { Webhook } from 'standardwebhooks';
import { afterEach, describe, expect, it } from 'vitest';
import { reply } from '../fakes/llm-server.js';
import { createTestEnv, type TestEnv } from '../support/context.js';
import { waitForStatus } from '../support/jobs.js';
import { storedRows } from '../support/rows.js';
import { llmAndReceiverPerFile, until, verifyStandardWebhook } from '../support/webhook-receiver.js';

const f = llmAndReceiverPerFile();
let t: TestEnv;
let auth: Record<string, string>;
let secret: string;

afterEach(async () => {
  await t?.close();
});

async function setup(env: Record<string, string> = {}) {
  t = await createTestEnv({
    ANTHROPIC_API_KEY: 'sk-ant-test', ANTHROPIC_BASE_URL: f.llm.anthropicBaseUrl,
    WEBHOOK_ALLOW_PRIVATE: 'true', WEBHOOK_RETRY_SCHEDULE_MS: '100,100,100', WEBHOOK_MAX_ATTEMPTS: '4', WEBHOOK_TIMEOUT_MS: '2000', ...env,
  });
  f.llm.setDefault(reply.ok('the answer'));
  const created = (await t.app.inject({ method: 'POST', url: '/v1/api-keys', headers: t.admin, payload: { name: 'hooks', tier: 'pro' } })).json();
  auth = { authorization: `Bearer ${created.key}` };
  const keyId = created.id as string;
  const rotated = await t.app.inject({ method: 'POST', url: `/v1/api-keys/${keyId}/webhook-secret`, headers: auth });
  expect(rotated.statusCode).toBe(200);
  secret = rotated.json().secret;
  expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
  const tpl = await t.app.inject({ method: 'POST', url: '/v1/templates', headers: auth, payload: { name: 't', body: 'About {{topic}}', provider: 'anthropic' } });
  return { keyId, tpl: tpl.json().id as string };
}

const generate = (tpl: string, topic: string, webhook: Record<string, unknown>) =>
  t.app.inject({ method: 'POST', url: '/v1/generate', headers: auth, payload: { templateId: tpl, variables: { topic }, webhook } });

describe('webhooks', () => {
  it('a completed job is delivered once, signed per the Standard Webhooks spec; the body is the job', async () => {
    const { tpl } = await setup();
    t.worker();
    const res = await generate(tpl, 'signed', { url: `${f.receiver.url}/hook` });
    expect(res.statusCode).toBe(202);
    const jobId = res.json().jobId;
    await until(() => f.receiver.received.length >= 1, 15_000, 'a delivery');
    const [got] = f.receiver.received;
    expect(got!.path).toBe('/hook');
    expect(verifyStandardWebhook(secret, got!.headers, got!.body)).toBe(true);
    expect(verifyStandardWebhook(`whsec_${Buffer.alloc(32, 1).toString('base64')}`, got!.headers, got!.body)).toBe(false);
    expect(verifyStandardWebhook(secret, got!.headers, `${got!.body} `)).toBe(false);
    // The reference implementation agrees.
    expect(() => new Webhook(secret).verify(got!.body, got!.headers as Record<string, string>)).not.toThrow();
    const body = JSON.parse(got!.body);
    expect(body).toMatchObject({ id: jobId, status: 'completed', result: { text: 'the answer' }, batchId: null });
    const job = await waitForStatus(t.app, auth, jobId, ['completed']);
    expect(body).toEqual(job);

    await until(async () => (await attempts(jobId)).length === 1, 5000, 'the attempt record');
    const list = await attempts(jobId);
    expect(list[0]).toMatchObject({ attempt: 1, statusCode: 200, delivered: true, event: 'completed', messageId: got!.headers['webhook-id'] });
    await new Promise((r) => setTimeout(r, 300));
    expect(f.receiver.received).toHaveLength(1);
  });

  it('retries after 500s (same webhook-id), then 2xx ends it; each attempt recorded', async () => {
    const { tpl } = await setup();
    t.worker();
    f.receiver.script({ status: 500 }, { status: 503 });
    const jobId = (await generate(tpl, 'retry', { url: `${f.receiver.url}/r` })).json().jobId;
    await until(() => f.receiver.received.length >= 3, 15_000, 'three attempts');
    const ids = new Set(f.receiver.received.map((r) => r.headers['webhook-id']));
    expect(ids.size).toBe(1);
    for (const r of f.receiver.received) expect(verifyStandardWebhook(secret, r.headers, r.body)).toBe(true);
    await until(async () => (await attempts(jobId)).length === 3, 5000, 'three attempt records');
    expect((await attempts(jobId)).map((a) => [a.attempt, a.statusCode, a.delivered])).toEqual([[1, 500, false], [2, 503, false], [3, 200, true]]);
    await new Promise((r) => setTimeout(r, 400));
    expect(f.receiver.received).toHaveLength(3);
  });

  it('410 disables the endpoint for the key: no retry, and new subscriptions to it are refused until the secret rotates', async () => {
    const { tpl, keyId } = await setup();
    t.worker();
    f.receiver.script({ status: 410 });
    const jobId = (await generate(tpl, 'gone', { url: `${f.receiver.url}/gone` })).json().jobId;
    await until(async () => (await attempts(jobId)).length === 1, 15_000, 'the attempt');
    await new Promise((r) => setTimeout(r, 400));
    expect(f.receiver.received).toHaveLength(1);
    expect((await attempts(jobId))[0]).toMatchObject({ statusCode: 410, delivered: false });
    const again = await generate(tpl, 'gone again', { url: `${f.receiver.url}/gone` });
    expect(again.statusCode).toBe(400);
    expect(again.json().error.code).toBe('webhook_disabled');
    expect((await t.app.inject({ method: 'POST', url: `/v1/api-keys/${keyId}/webhook-secret`, headers: auth })).statusCode).toBe(200);
    expect((await generate(tpl, 'gone again', { url: `${f.receiver.url}/gone` })).statusCode).toBe(202);
  });

  it('a redirect is not followed: 3xx is a failed attempt', async () => {
    const { tpl } = await setup({ WEBHOOK_MAX_ATTEMPTS: '2' });
    t.worker();
    f.receiver.script({ status: 302, headers: { location: `${f.receiver.url}/elsewhere` } }, { status: 302, headers: { location: `${f.receiver.url}/elsewhere` } });
    const jobId = (await generate(tpl, 'redirect', { url: `${f.receiver.url}/start` })).json().jobId;
    await until(async () => (await attempts(jobId)).length === 2, 15_000, 'two attempts');
    expect((await attempts(jobId)).map((a) => [a.statusCode, a.delivered])).toEqual([[302, false], [302, false]]);
    expect(f.receiver.received.map((r) => r.path)).toEqual(['/start', '/start']);
  });

  it('without WEBHOOK_ALLOW_PRIVATE, private, loopback, link-local and IPv4-mapped URLs are refused at submit (400), nothing admitted', async () => {
    const { tpl } = await setup({ WEBHOOK_ALLOW_PRIVATE: 'false' });
    for (const url of ['http://127.0.0.1:9/x', 'http://10.0.0.1/x', 'http://169.254.169.254/latest', 'http://[::1]/x', 'http://[::ffff:127.0.0.1]/x',
      'http://[::ffff:0:7f00:1]/x', 'http://[2002:7f00:1::1]/x', 'http://[2002:a00:1::]/x', 'http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/x', 'http://localhost/x', 'ftp://example.com/x']) {
      const res = await generate(tpl, `private ${url}`, { url });
      expect([res.statusCode, res.json().error?.code], url).toEqual([400, res.statusCode === 400 && url.startsWith('ftp') ? 'bad_request' : 'webhook_url_forbidden']);
    }
    // What a name resolves to inside the network is not told.
    const named = (await generate(tpl, 'private name', { url: 'http://localhost/x' })).json().error.message;
    expect(named).toContain('localhost resolves to a private');
    expect(named).not.toMatch(/127\.0\.0\.1|::1/);
    expect((await storedRows(t)).generations).toBe(0);
  });

  it('the address is checked again at delivery: a worker without WEBHOOK_ALLOW_PRIVATE never connects to a private one', async () => {
    const { tpl } = await setup();
    t.worker({ config: { ...t.config, WEBHOOK_ALLOW_PRIVATE: false } });
    const jobId = (await generate(tpl, 'rebind', { url: `${f.receiver.url}/private` })).json().jobId;
    await until(async () => (await attempts(jobId)).length === 1, 15_000, 'the refused attempt');
    await new Promise((r) => setTimeout(r, 400));
    expect(f.receiver.received).toHaveLength(0);
    expect((await attempts(jobId))[0]).toMatchObject({ statusCode: null, delivered: false, error: expect.stringMatching(/127\.0\.0\.1.*private/) });
  });

  it('a webhook needs the key to have a secret', async () => {
    t = await createTestEnv({ WEBHOOK_ALLOW_PRIVATE: 'true' });
    const other = await t.keyHeader('pro');
    const tpl = (await t.app.inject({ method: 'POST', url: '/v1/templates', headers: other, payload: { name: 't', body: 'x {{a}}', provider: 'fake' } })).json().id;
    const res = await t.app.inject({ method: 'POST', url: '/v1/generate', headers: other, payload: { templateId: tpl, variables: { a: 1 }, webhook: { url: `${f.receiver.url}/x` } } });
    expect(res.json().error.code).toBe('webhook_secret_required');
    // The key itself, its project's admins or the admin key create or rotate its secret; a member not another's.
    const target = (await t.app.inject({ method: 'POST', url: '/v1/api-keys', headers: t.admin, payload: { name: 'target' } })).json().id;
    const member = await t.keyHeader('pro', 'member');
    expect((await t.app.inject({ method: 'POST', url: `/v1/api-keys/${target}/webhook-secret`, headers: member })).statusCode).toBe(403);
    expect((await t.app.inject({ method: 'POST', url: `/v1/api-keys/${target}/webhook-secret`, headers: other })).statusCode).toBe(200);
    expect((await t.app.inject({ method: 'POST', url: `/v1/api-keys/${target}/webhook-secret`, headers: t.admin })).statusCode).toBe(200);
  });
});

async function attempts(jobId: string) {
  const res = await t.app.inject({ method: 'GET', url: `/v1/jobs/${jobId}/webhooks`, headers: auth });
  expect(res.statusCode).toBe(200);
  return res.json().data as { attempt: number; statusCode: number | null; delivered: boolean; event: string; messageId: string }[];
}
