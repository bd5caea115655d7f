import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { startFakeLlm, type FakeLlm } from '../fakes/llm-server.js';

/** A delivery the receiver got. */
export interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  at: number;
}

/** How the receiver answers: a status, and headers (e.g. a redirect's location). */
export interface ReceiverReply {
  status: number;
  headers?: Record<string, string>;
}

/**
 * A real local HTTP server receiving webhooks: records every request, answers from a script
 * (FIFO, then 200).
 */
export async function startReceiver() {
  const received: Received[] = [];
  const script: ReceiverReply[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => { body += c; });
    req.on('end', () => {
      received.push({ path: req.url ?? '', headers: req.headers, body, at: Date.now() });
      const r = script.shift() ?? { status: 200 };
      res.writeHead(r.status, r.headers).end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    script(...replies: ReceiverReply[]) { script.push(...replies); },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/**
 * The Standard Webhooks check, written from the spec (not from src/): the signature header holds
 * space-separated `v1,<base64>` entries; one must equal HMAC-SHA256 keyed with the base64 bytes
 * after `whsec_`, over `${id}.${timestamp}.${body}`; the timestamp must be within 5 minutes.
 */
export function verifyStandardWebhook(secret: string, headers: IncomingHttpHeaders, body: string): boolean {
  const id = String(headers['webhook-id'] ?? '');
  const ts = String(headers['webhook-timestamp'] ?? '');
  const sigs = String(headers['webhook-signature'] ?? '').split(' ');
  if (!id || !/^\d+$/.test(ts) || Math.abs(Date.now() / 1000 - Number(ts)) > 300) return false;
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const expected = createHmac('sha256', key).update(`${id}.${ts}.${body}`).digest();
  return sigs.some((s) => {
    const [v, b64] = s.split(',');
    if (v !== 'v1' || !b64) return false;
    const got = Buffer.from(b64, 'base64');
    return got.length === expected.length && timingSafeEqual(got, expected);
  });
}

/** Polls until `check` holds (or fails after `ms`). */
export async function until(check: () => boolean | Promise<boolean>, ms = 15_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** What `llmAndReceiverPerFile` keeps: the file's fake LLM and webhook receiver. */
export interface LlmAndReceiver {
  llm: FakeLlm;
  receiver: Awaited<ReturnType<typeof startReceiver>>;
}

/** Call at a file's top level: one fake LLM and one webhook receiver for the file, both emptied after each test. */
export function llmAndReceiverPerFile(): LlmAndReceiver {
  const f = {} as LlmAndReceiver;
  beforeAll(async () => {
    f.llm = await startFakeLlm();
    f.receiver = await startReceiver();
  });
  afterAll(async () => {
    await f.llm.close();
    await f.receiver.close();
  });
  afterEach(() => {
    f.receiver.received.length = 0;
    f.llm.reset(); // a script a test left unanswered must not answer the next one
  });
  return f;
}
