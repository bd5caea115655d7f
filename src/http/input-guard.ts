import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import fp from 'fastify-plugin';
import { AppError } from '../errors/app-error.js';
import { toAppError } from '../errors/handler.js';
import { checkedJsonParser, MAX_INPUT_DEPTH } from './json-body.js';

export { MAX_INPUT_DEPTH } from './json-body.js';

declare global {
  // ES2024, in Node since 20; the project's lib is ES2023.
  interface String {
    isWellFormed(): boolean;
    toWellFormed(): string;
  }
}


/** What is wrong with one part of a request, and where (JSON Pointer segments, outermost first). */
export interface InputFlaw {
  path: string[];
  message: string;
}

const NUL = 'contains U+0000 (NUL), which cannot be stored';
const SURROGATE = 'contains an unpaired UTF-16 surrogate, which is not Unicode';
const TOO_DEEP = `is nested more than ${MAX_INPUT_DEPTH} levels deep`;

const stringFlaw = (s: string): string | undefined =>
  s.indexOf('\u0000') !== -1 ? NUL : s.isWellFormed() ? undefined : SURROGATE;

/**
 * The first string (value or key) in `value` that contains U+0000 or an
 * unpaired surrogate, or the first container nested too deep. One pass;
 * recursion is bounded by MAX_INPUT_DEPTH; allocates only when it finds one.
 */
export function findFlaw(value: unknown, depth = 0): InputFlaw | undefined {
  if (typeof value === 'string') {
    const message = stringFlaw(value);
    return message ? { path: [], message } : undefined;
  }
  if (typeof value !== 'object' || value === null || ArrayBuffer.isView(value)) return undefined;
  if (depth >= MAX_INPUT_DEPTH) return { path: [], message: TOO_DEEP };
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const flaw = findFlaw(value[i], depth + 1);
      if (flaw) return (flaw.path.unshift(String(i)), flaw);
    }
    return undefined;
  }
  const obj = value as Record<string, unknown>;
  for (const key in obj) {
    const keyFlaw = stringFlaw(key);
    if (keyFlaw) return { path: [key], message: `(a key) ${keyFlaw}` };
    const flaw = findFlaw(obj[key], depth + 1);
    if (flaw) return (flaw.path.unshift(key), flaw);
  }
  return undefined;
}

/** A JSON Pointer segment, printable: the offending characters are shown, not echoed. */
const segment = (s: string) => s.replaceAll('~', '~0').replaceAll('/', '~1').replaceAll('\u0000', '\\u0000').toWellFormed();

/** The flaw as the standard bad_request, its path named as schema validation names paths (`body/variables/x`). */
export function flawError(part: string, flaw: InputFlaw): AppError {
  const path = [part, ...flaw.path].map(segment).join('/');
  return new AppError('bad_request', `${path} ${flaw.message}.`, { issues: [{ path, message: flaw.message }] });
}

function guard(request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction): void {
  let flaw: InputFlaw | undefined;
  let part = 'body';
  if ((flaw = findFlaw(request.body))) part = 'body';
  else if ((flaw = findFlaw(request.query))) part = 'querystring';
  else if ((flaw = findFlaw(request.params))) part = 'params';
  else if ((flaw = findFlaw(request.headers))) part = 'headers';
  done(flaw ? flawError(part, flaw) : undefined);
}

/**
 * Fastify's `frameworkErrors`, for what its router refuses before any hook
 * runs: a path that does not percent-decode to UTF-8 (FST_ERR_BAD_URL) or
 * with a parameter over 100 characters (FST_ERR_MAX_PARAM_LENGTH, a 414 by
 * default) is a bad_request, with the standard body like every other error.
 */
export function frameworkErrors(err: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const appErr =
    err.code === 'FST_ERR_BAD_URL' ? new AppError('bad_request', 'The URL path does not decode: percent-escapes must spell UTF-8.')
    : err.code === 'FST_ERR_MAX_PARAM_LENGTH' ? new AppError('bad_request', 'A path parameter is longer than 100 characters.')
    : toAppError(err);
  if (appErr.statusCode >= 500) request.log.error({ err }, 'request failed');
  void reply.code(appErr.statusCode).send(appErr.toBody());
}

/**
 * Refuses, before validation and on every route, input that Postgres cannot
 * store or our code cannot walk safely: a string (or object key) in the body,
 * querystring, params or headers with U+0000 or an unpaired UTF-16 surrogate
 * (Postgres text and jsonb reject the first, jsonb the second, and text would
 * silently keep U+FFFD), or a body nested deeper than MAX_INPUT_DEPTH.
 * All answer 400 bad_request naming the path. Register before the routes.
 */
export const inputGuard = fp(
  async (app: FastifyInstance) => {
    app.removeContentTypeParser('application/json');
    app.addContentTypeParser('application/json', { parseAs: 'buffer' }, checkedJsonParser(app.getDefaultJsonParser('error', 'error')));
    app.addHook('preValidation', guard);
  },
  { name: 'input-guard', fastify: '5.x' },
);
