import { Type } from 'typebox';
import type { AppError } from '../errors/app-error.js';

/** Which wire format a route answers errors in: PromptLab's own, OpenAI's or Anthropic's. */
export type ErrorFormat = 'openai' | 'anthropic';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Render errors in this provider's error body instead of PromptLab's (same status and headers). */
    errorFormat?: ErrorFormat;
  }
}

/** OpenAI's error body: `{error: {message, type, param, code}}`; `code` is PromptLab's catalogue code. */
export const OpenAIErrorBody = Type.Object({
  error: Type.Object({
    message: Type.String(),
    type: Type.String(),
    param: Type.Union([Type.String(), Type.Null()]),
    code: Type.Union([Type.String(), Type.Null()]),
  }),
}, { description: "OpenAI's error body; `code` is PromptLab's error code" });

/** Anthropic's error body: `{type: 'error', error: {type, message}}`. */
export const AnthropicErrorBody = Type.Object({
  type: Type.Literal('error'),
  error: Type.Object({ type: Type.String(), message: Type.String() }),
}, { description: "Anthropic's error body" });

const OPENAI_TYPES: Record<number, string> = {
  401: 'authentication_error', 402: 'insufficient_quota', 403: 'permission_error', 404: 'not_found_error',
  429: 'rate_limit_error', 500: 'server_error', 502: 'server_error', 503: 'server_error', 504: 'timeout_error',
};
const ANTHROPIC_TYPES: Record<number, string> = {
  401: 'authentication_error', 402: 'billing_error', 403: 'permission_error', 404: 'not_found_error',
  413: 'request_too_large', 429: 'rate_limit_error', 500: 'api_error', 502: 'api_error', 503: 'api_error', 504: 'timeout_error',
};

/** The request field an error is about: `details.param`, else the first validation issue's field or path. */
function paramOf(err: AppError): string | null {
  const d = err.details as { param?: string; issues?: { path: string; field?: string }[] } | undefined;
  if (d?.param) return d.param;
  const issue = d?.issues?.[0];
  if (!issue) return null;
  const path = issue.path.replace(/^body\/?/, '').replaceAll('/', '.');
  return [path, issue.field].filter(Boolean).join('.') || null;
}

/** A field the route does not support is named as such, rather than as a schema violation. */
function messageOf(err: AppError): string {
  const field = (err.details as { issues?: { field?: string }[] } | undefined)?.issues?.[0]?.field;
  return field ? `Unsupported parameter: '${field}' is not supported by PromptLab.` : err.message;
}

/** `err` in `format`'s error body. */
export function formatError(format: ErrorFormat, err: AppError): unknown {
  const status = err.statusCode;
  if (format === 'anthropic') return { type: 'error', error: { type: ANTHROPIC_TYPES[status] ?? 'invalid_request_error', message: messageOf(err) } };
  return { error: { message: messageOf(err), type: OPENAI_TYPES[status] ?? 'invalid_request_error', param: paramOf(err), code: err.code } };
}
