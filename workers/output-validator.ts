import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import { FROM_SOURCES } from '../src/util/project-root.js';
import type { OutcomeCode } from './failures.js';

/** What the main thread sends the validator thread. */
export interface ThreadRequest {
  id: number;
  text: string;
  schema: Record<string, unknown>;
}

/** What the validator thread answers (after a first `'ready'` message). */
export type ThreadAnswer = { id: number } & ({ ok: true; json: unknown } | { ok: false; schemaInvalid: boolean; reason: string });

/** A checked answer, or why it is unusable, as the AttemptFailed code to fail the attempt with. */
export type Validation =
  | { ok: true; json: unknown }
  | { ok: false; code: Extract<OutcomeCode, 'output_invalid' | 'output_schema_invalid' | 'output_validation_timeout'>; reason: string };

export interface OutputValidatorOptions {
  /** Longest one validation may run in the thread before the thread is ended. @defaultValue OUTPUT_VALIDATION_TIMEOUT_MS (2000) */
  timeoutMs: number;
  log?: Logger;
}

interface Request {
  text: string;
  schema: Record<string, unknown>;
  resolve(v: Validation): void;
  reject(err: Error): void;
}

// From the sources the thread is TypeScript: a line of JavaScript registers tsx in the thread (an
// `--import tsx` in a Worker's execArgv does not reach its entry), then imports it. The build runs it as is.
const THREAD = new URL(`./output-validator-thread.${FROM_SOURCES ? 'ts' : 'js'}`, import.meta.url);
const BOOT = FROM_SOURCES
  ? `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((tsx) => { tsx.register(); return import(${JSON.stringify(THREAD.href)}); });`
  : `import(${JSON.stringify(THREAD.href)});`;

/**
 * Checks model answers against template outputSchemas in one worker thread, one at a time,
 * so that no schema and no answer can hold the worker's event loop: a check still running
 * after `timeoutMs` has its thread terminated (a fresh one serves the next) and answers
 * `output_validation_timeout`. The thread starts on the first check; the deadline of a
 * check starts when the thread receives it, not while it waits in the queue. Waiting checks
 * are taken round-robin by group (the project), so one project's slow checks delay another's
 * by at most one check each.
 */
export class OutputValidator {
  private thread: Worker | undefined;
  private ready = false;
  /** Waiting checks by group, in the order the groups take turns (a Map keeps insertion order). */
  private readonly queues = new Map<string, Request[]>();
  private current: (Request & { id: number; timer: NodeJS.Timeout }) | undefined;
  private nextId = 0;
  private closed = false;

  constructor(private readonly opts: OutputValidatorOptions) {}

  /** Parses `text` as JSON and checks it against `schema`, in `group`'s turn; rejects only if the thread itself fails. */
  validate(text: string, schema: Record<string, unknown>, group = ''): Promise<Validation> {
    if (this.closed) return Promise.reject(new Error('the output validator is closed'));
    return new Promise((resolve, reject) => {
      const queue = this.queues.get(group);
      if (queue) queue.push({ text, schema, resolve, reject });
      else this.queues.set(group, [{ text, schema, resolve, reject }]);
      this.pump();
    });
  }

  /** The next waiting check: the first group's oldest; that group then goes to the back of the turn. */
  private next(): Request | undefined {
    for (const [group, queue] of this.queues) {
      this.queues.delete(group);
      const req = queue.shift();
      if (queue.length) this.queues.set(group, queue);
      if (req) return req;
    }
    return undefined;
  }

  /** Every waiting check, removed. */
  private drain(): Request[] {
    const all = [...this.queues.values()].flat();
    this.queues.clear();
    return all;
  }

  /** Ends the thread; checks still queued are rejected. */
  async close(): Promise<void> {
    this.closed = true;
    const thread = this.thread;
    this.stop(new Error('the output validator is closed'));
    for (const r of this.drain()) r.reject(new Error('the output validator is closed'));
    await thread?.terminate();
  }

  private pump(): void {
    if (this.current || this.queues.size === 0 || this.closed) return;
    const thread = this.thread ?? this.start();
    if (!this.ready) return;
    const req = this.next();
    if (!req) return;
    const id = ++this.nextId;
    const timer = setTimeout(() => this.expire(id), this.opts.timeoutMs);
    this.current = { ...req, id, timer };
    thread.postMessage({ id, text: req.text, schema: req.schema } satisfies ThreadRequest);
  }

  private start(): Worker {
    const thread = new Worker(BOOT, { eval: true });
    thread.unref(); // an idle thread never keeps the process alive
    this.thread = thread;
    this.ready = false;
    thread.on('message', (m: ThreadAnswer | 'ready') => {
      if (thread !== this.thread) return;
      if (m === 'ready') {
        this.ready = true;
      } else if (this.current?.id === m.id) {
        const req = this.current;
        this.current = undefined;
        clearTimeout(req.timer);
        req.resolve(m.ok ? { ok: true, json: m.json } : { ok: false, code: m.schemaInvalid ? 'output_schema_invalid' : 'output_invalid', reason: m.reason });
      }
      this.pump();
    });
    thread.on('error', (err) => this.crashed(thread, err));
    thread.on('exit', (code) => this.crashed(thread, new Error(`it exited with code ${code}`)));
    return thread;
  }

  private expire(id: number): void {
    const req = this.current;
    if (req?.id !== id) return;
    this.current = undefined;
    const thread = this.thread;
    this.thread = undefined;
    this.ready = false;
    void thread?.terminate();
    this.opts.log?.warn({ timeoutMs: this.opts.timeoutMs }, 'output validation past its deadline: thread terminated');
    req.resolve({ ok: false, code: 'output_validation_timeout', reason: `validating the output against outputSchema took longer than ${this.opts.timeoutMs} ms` });
    this.pump();
  }

  private crashed(thread: Worker, err: Error): void {
    if (thread !== this.thread) return;
    const failure = new Error(`the output validator thread failed: ${err.message}`);
    this.opts.log?.error({ err: err.message }, 'output validator thread failed');
    const starting = !this.ready;
    this.stop(failure);
    // A thread that cannot start would fail every check the same way: no restart loop.
    if (starting) for (const r of this.drain()) r.reject(failure);
    this.pump();
  }

  /** Forgets the thread (its owner terminates it) and fails the check it was running. */
  private stop(err: Error): void {
    this.thread = undefined;
    this.ready = false;
    const req = this.current;
    this.current = undefined;
    if (req) {
      clearTimeout(req.timer);
      req.reject(err);
    }
  }
}
