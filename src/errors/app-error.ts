import { ERRORS, type ErrorCode } from './catalogue.js';

/** An error the API answers with: a catalogue code, optional message and details. */
export class AppError extends Error {
  override name = 'AppError';
  readonly statusCode: number;

  constructor(
    readonly code: ErrorCode,
    message?: string,
    readonly details?: Record<string, unknown>,
    /** Response headers that belong to this error, e.g. the `retry-after` of a 429 raised inside a service. */
    readonly headers?: Record<string, string>,
  ) {
    super(message ?? ERRORS[code].message);
    this.statusCode = ERRORS[code].status;
  }

  toBody(): ErrorBody {
    return { error: { code: this.code, message: this.message, ...(this.details ? { details: this.details } : {}) } };
  }
}

export interface ErrorBody {
  error: { code: string; message: string; details?: Record<string, unknown> };
}
