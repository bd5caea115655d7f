/**
 * The thread behind OutputValidator: compiles a template's outputSchema and checks one
 * answer at a time. It may run as long as the schema makes it; the main thread ends it
 * (worker.terminate) at the deadline.
 */
import { parentPort } from 'node:worker_threads';
import { outputValidator, parseOutput } from '../src/templates/output-schema.js';
import type { ThreadAnswer, ThreadRequest } from './output-validator.js';

function check({ id, text, schema }: ThreadRequest): ThreadAnswer {
  try {
    outputValidator(schema);
  } catch (err) {
    // A template stored before today's checks may hold a schema that no longer compiles.
    return { id, ok: false, schemaInvalid: true, reason: `outputSchema cannot be compiled: ${(err as Error).message}` };
  }
  try {
    const r = parseOutput(text, schema);
    return r.ok ? { id, ok: true, json: r.json } : { id, ok: false, schemaInvalid: false, reason: r.reason };
  } catch (err) {
    // A recursive schema on a deep enough answer overflows the stack: that answer is unusable, another may not be.
    return { id, ok: false, schemaInvalid: false, reason: `the JSON could not be checked against outputSchema: ${(err as Error).message}` };
  }
}

parentPort!.on('message', (req: ThreadRequest) => parentPort!.postMessage(check(req)));
parentPort!.postMessage('ready');
