import type { AppError } from '../../errors/app-error.js';
import { messageOf, paramOf } from '../error-text.js';

const OPENAI_TYPES: Record<number, string> = {
  401: 'authentication_error', 402: 'insufficient_quota', 403: 'permission_error', 404: 'not_found_error',
  429: 'rate_limit_error', 500: 'server_error', 502: 'server_error', 503: 'server_error', 504: 'timeout_error',
};
/** `err` in OpenAI's error body: `code` is PromptLab's catalogue code, `type` OpenAI's for the status. */
export const openaiErrorBody = (err: AppError) => ({
  error: { message: messageOf(err), type: OPENAI_TYPES[err.statusCode] ?? 'invalid_request_error', param: paramOf(err), code: err.code },
});
