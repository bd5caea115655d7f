import { AppError } from '../errors/app-error.js';

/** Largest body of a single request (POST /v1/generate, the compatible routes); each batch item is held to it too. @defaultValue 1 MiB */
export const BODY_LIMIT_BYTES = 1024 * 1024;

/**
 * Deepest nesting of objects and arrays a request may carry, the body itself
 * being level 1. Deeper input is refused before any code walks it
 * recursively (validation, hashing, JSON Schema compilation).
 */
export const MAX_INPUT_DEPTH = 64;

/** Most members one object of a request body may have. @defaultValue 10000 */
export const MAX_OBJECT_MEMBERS = 10_000;
/** Most elements one array of a request body may have (a batch holds 10,000 items). @defaultValue 100000 */
export const MAX_ARRAY_ELEMENTS = 100_000;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_OBJECT = 0x7b;
const OPEN_ARRAY = 0x5b;
const CLOSE_OBJECT = 0x7d;
const CLOSE_ARRAY = 0x5d;
const COMMA = 0x2c;

/**
 * What is wrong with the shape of a JSON text before it is parsed: nesting deeper than
 * MAX_INPUT_DEPTH, or an object or array with more members than this API ever takes. One pass
 * over the bytes, no allocation per value: a body nested five million deep or holding a million
 * keys is refused in milliseconds, instead of costing seconds of the event loop and hundreds of
 * MB to parse before a schema refuses it. Malformed JSON is left for the parser to name.
 */
export function jsonShapeProblem(body: Buffer): string | undefined {
  const counts: number[] = [];
  const objects: boolean[] = [];
  let depth = 0;
  let inString = false;
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (inString) {
      // Jump to the next quote (memchr speed: a base64 image is one long string), then back over
      // the backslashes before it: an odd count escapes it.
      const q = body.indexOf(QUOTE, i);
      if (q === -1) return undefined;
      let slashes = 0;
      while (q - 1 - slashes >= i && body[q - 1 - slashes] === BACKSLASH) slashes++;
      i = q;
      if (slashes % 2 === 0) inString = false;
      continue;
    }
    if (c === QUOTE) inString = true;
    else if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      if (++depth > MAX_INPUT_DEPTH) return `is nested more than ${MAX_INPUT_DEPTH} levels deep`;
      counts[depth] = 1;
      objects[depth] = c === OPEN_OBJECT;
    } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
      if (depth > 0) depth--;
    } else if (c === COMMA && depth > 0) {
      const n = ++counts[depth]!;
      if (objects[depth] ? n > MAX_OBJECT_MEMBERS : n > MAX_ARRAY_ELEMENTS) {
        return objects[depth] ? `has an object of more than ${MAX_OBJECT_MEMBERS} members` : `has an array of more than ${MAX_ARRAY_ELEMENTS} elements`;
      }
    }
  }
  return undefined;
}

type Done = (err: Error | null, value?: unknown) => void;

/**
 * The body parser of `application/json`: the shape check, then `parse` (Fastify's own JSON
 * parser, which refuses `__proto__` and `constructor.prototype`). A refused shape is the
 * standard 400 `bad_request`, in the route's error format.
 */
export function checkedJsonParser<R>(parse: (request: R, body: string, done: Done) => void) {
  return (request: R, body: Buffer, done: Done): void => {
    const problem = jsonShapeProblem(body);
    if (problem) return done(new AppError('bad_request', `The body ${problem}.`, { issues: [{ path: 'body', message: problem }] }));
    parse(request, body.toString('utf8'), done);
  };
}
