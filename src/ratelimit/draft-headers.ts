import type { onSendHookHandler } from 'fastify';
import { policyName, windowMsOf } from './limits.js';

const sfString = (s: string) => `"${s.replace(/[\\"]/g, '\\$&')}"`;

/**
 * onSend hook adding the IETF draft-10 structured fields next to the
 * X-RateLimit-* headers @fastify/rate-limit set on this reply:
 * `RateLimit-Policy: "default";q=100;w=60` and `RateLimit: "default";r=42;t=7`
 * (`t` = seconds until one more request fits, as X-RateLimit-Reset).
 */
export function draftHeadersHook(defaultWindowMs: number): onSendHookHandler {
  return (request, reply, payload, done) => {
    const limit = reply.getHeader('x-ratelimit-limit');
    if (limit !== undefined) {
      const name = sfString(policyName(request));
      const w = Math.max(1, Math.ceil(windowMsOf(request, defaultWindowMs) / 1000));
      reply.header('ratelimit-policy', `${name};q=${String(limit)};w=${w}`);
      reply.header(
        'ratelimit',
        `${name};r=${String(reply.getHeader('x-ratelimit-remaining'))};t=${String(reply.getHeader('x-ratelimit-reset'))}`,
      );
    }
    done(null, payload);
  };
}
