import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';
import { BlockedAddressError, resolveAllowed } from '../http/address.js';

export interface DeliveryOptions {
  timeoutMs: number;
  allowPrivate: boolean;
}

/** One attempt's outcome: the status the receiver answered, or why there was none. */
export interface DeliveryResult {
  statusCode: number | null;
  error: string | null;
  durationMs: number;
  /** The URL may never be delivered to (it resolves to a refused address): do not retry. */
  blocked: boolean;
}

/** Longest part of a receiver's answer that is read (and thrown away). */
const MAX_RESPONSE_BYTES = 64 * 1024;

/**
 * POSTs one webhook attempt. The host is resolved and checked first, and the socket connects
 * to that checked address (a pinned `lookup`), so a name that resolves elsewhere a moment later
 * (DNS rebinding) cannot reach a private address. Redirects are not followed: a 3xx is an
 * answer like any other non-2xx. The whole attempt is bounded by `timeoutMs`.
 */
export async function deliverWebhook(url: string, headers: Record<string, string>, body: string, opts: DeliveryOptions): Promise<DeliveryResult> {
  const started = performance.now();
  const done = (statusCode: number | null, error: string | null, blocked = false): DeliveryResult =>
    ({ statusCode, error, durationMs: Math.round(performance.now() - started), blocked });
  const u = new URL(url);
  let pinned: { address: string; family: 4 | 6 };
  try {
    pinned = await resolveAllowed(u.hostname, opts.allowPrivate);
  } catch (err) {
    return done(null, err instanceof BlockedAddressError ? err.message : `dns: ${String(err)}`, err instanceof BlockedAddressError);
  }
  const lookup: LookupFunction = (_host, options, cb) => {
    if (options.all) cb(null, [{ address: pinned.address, family: pinned.family }]);
    else cb(null, pinned.address, pinned.family);
  };
  const send = u.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise<DeliveryResult>((resolve) => {
    const req = send(u, {
      method: 'POST', lookup, agent: false, timeout: opts.timeoutMs,
      headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), 'user-agent': 'PromptLab-Webhooks/1', ...headers },
    }, (res) => {
      let read = 0;
      res.on('data', (c: Buffer) => {
        read += c.length;
        if (read > MAX_RESPONSE_BYTES) res.destroy();
      });
      res.on('close', () => resolve(done(res.statusCode ?? null, null)));
      res.on('error', () => resolve(done(res.statusCode ?? null, null)));
    });
    const deadline = setTimeout(() => req.destroy(new Error(`timed out after ${opts.timeoutMs} ms`)), opts.timeoutMs);
    req.on('timeout', () => req.destroy(new Error(`timed out after ${opts.timeoutMs} ms`)));
    req.on('error', (err) => resolve(done(null, err.message)));
    req.on('close', () => clearTimeout(deadline));
    req.end(body);
  });
}
