import type { AppError } from '../../errors/app-error.js';
import { messageOf } from '../error-text.js';

const ANTHROPIC_TYPES: Record<number, string> = {
  401: 'authentication_error', 402: 'billing_error', 403: 'permission_error', 404: 'not_found_error',
  413: 'request_too_large', 429: 'rate_limit_error', 500: 'api_error', 502: 'api_error', 503: 'api_error', 504: 'timeout_error',
};

/** `err` in Anthropic's error body, typed for its status. */
export const anthropicErrorBody = (err: AppError) => ({
  type: 'error', error: { type: ANTHROPIC_TYPES[err.statusCode] ?? 'invalid_request_error', message: messageOf(err) },
});
