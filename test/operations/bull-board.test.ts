import { mkdirSync } from 'node:fs';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../support/browser.js';
import { ADMIN_KEY, createTestEnv, type TestEnv } from '../support/context.js';
import { waitForStatus } from '../support/jobs.js';

const ARTIFACTS = new URL('../artifacts/', import.meta.url);
let t: TestEnv;
let base: string;
let browser: Browser;
let jobId: string;

beforeAll(async () => {
  t = await createTestEnv();
  t.worker({ config: { ...t.config, LOCAL_START: false } }); // the job through BullMQ, for the board to show (a local start is no BullMQ job)
  const auth = await t.keyHeader();
  const tpl = (await t.app.inject({ method: 'POST', url: '/v1/templates', headers: auth, payload: { name: 'board', body: 'Show {{x}}' } })).json().id;
  jobId = (await t.app.inject({ method: 'POST', url: '/v1/generate', headers: auth, payload: { templateId: tpl, variables: { x: 'me' } } })).json().jobId;
  await waitForStatus(t.app, auth, jobId, ['completed']);
  base = await t.app.listen({ port: 0, host: '127.0.0.1' });
  browser = await launchChromium();
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await t?.close();
});

describe('Bull Board at /admin/queues, in Chromium', () => {
  it('asks a browser to log in, and refuses anything but the admin key', async () => {
    // Headless Chromium has no login dialog: it gets the Basic challenge and may abandon the navigation (ERR_INVALID_AUTH_CREDENTIALS).
    const challenge = async (credentials?: { username: string; password: string }) => {
      const page = await (await browser.newContext(credentials ? { httpCredentials: credentials } : {})).newPage();
      const answered = page.waitForResponse(`${base}/admin/queues`);
      await page.goto(`${base}/admin/queues`).catch((err: Error) => expect(err.message).toMatch(/ERR_INVALID_AUTH_CREDENTIALS/));
      const res = await answered;
      await page.context().close();
      return res;
    };
    const res = await challenge();
    expect(res.status()).toBe(401);
    expect(res.headers()['www-authenticate']).toMatch(/^Basic realm="PromptLab admin"/);
    expect((await challenge({ username: 'admin', password: 'not-the-key' })).status()).toBe(401);
    const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
    const apiKey = (await t.keyHeader()).authorization!.slice('Bearer '.length);
    for (const authorization of [basic('admin', 'not-the-key'), basic('admin', apiKey), `Bearer ${apiKey}`]) {
      expect((await fetch(`${base}/admin/queues/api/queues`, { headers: { authorization } })).status).toBe(401);
    }
    expect((await fetch(`${base}/admin/queues/api/queues`, { headers: { authorization: basic('anyone', ADMIN_KEY) } })).status).toBe(200);
  });

  it('logs in with the admin key, shows both queues and the completed job, and keeps a screenshot', async () => {
    const context = await browser.newContext({ httpCredentials: { username: 'admin', password: ADMIN_KEY }, viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const res = await page.goto(`${base}/admin/queues`);
    expect(res?.status()).toBe(200);
    await expect(page.title()).resolves.toBe('PromptLab queues');
    await page.getByText('dead-letter', { exact: true }).first().waitFor({ timeout: 15_000 });
    await page.getByText('generation', { exact: true }).first().waitFor();

    await page.goto(`${base}/admin/queues/queue/generation?status=completed`);
    await page.getByText(jobId).first().waitFor({ timeout: 15_000 });
    mkdirSync(ARTIFACTS, { recursive: true });
    const shot = await page.screenshot({ path: new URL('bull-board.png', ARTIFACTS).pathname, fullPage: true });
    expect(shot.length).toBeGreaterThan(10_000);

    // Queue actions work from the board itself (same origin), and not from another site.
    const clean = await page.evaluate(async () => (await fetch('api/queues/dead-letter/clean/completed', { method: 'PUT' })).status);
    expect(clean).toBe(200);
    const cross = await fetch(`${base}/admin/queues/api/queues/dead-letter/clean/completed`, {
      method: 'PUT', headers: { authorization: `Bearer ${ADMIN_KEY}`, origin: 'https://elsewhere.example' },
    });
    expect(cross.status).toBe(403);
    await context.close();
  }, 60_000);
});
