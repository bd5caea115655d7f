import type { Callback, Result } from 'ioredis';
import type { RedisClient } from '../redis/client.js';
import type { Logger } from 'pino';
import { TIMED_OUT, within } from '../util/within.js';
import { redisKeys } from '../redis/keys.js';
import { defineScripts } from '../redis/scripts.js';
import { TurnBatch } from '../redis/turn-batch.js';

declare module 'ioredis' {
  interface RedisCommander<Context> {
    /** `src/events/appendEvents-n.lua`: the entry id of each event ("" when it failed); argv: `maxLen, ttl`, then `type, data, renew` per key. */
    appendEvents(numKeys: number, keys: string[], argv: string[], callback?: Callback<string[]>): Result<string[], Context>;
  }
}

/** One event waiting for its turn's script call. */
interface Append {
  key: string;
  type: JobEventType;
  data: string;
  renew: boolean;
  done: (err: Error | null, id?: string) => void;
}

/**
 * What happens to a job, in order: `queued` (admitted), `active` (an attempt
 * started), `delta` (`{text, attempt}`: a piece of a streamed job's answer, as the
 * provider sent it), `retrying` (an attempt failed, another is scheduled), then one
 * of the terminal `completed`, `dead` or `canceled`.
 */
export const JOB_EVENT_TYPES = ['queued', 'active', 'delta', 'failover', 'retrying', 'completed', 'dead', 'canceled'] as const;
export type JobEventType = (typeof JOB_EVENT_TYPES)[number];

/** One entry of a job's event stream; `id` is the Redis stream entry id (the SSE `id:`). */
export interface JobEvent {
  id: string;
  type: JobEventType;
  data: Record<string, unknown>;
}

export interface JobEventLogOptions {
  /** Entries kept per job (approximate trim). @defaultValue 1000 */
  maxLen?: number;
  /** How long a job's stream lives after its last event, so clients can resume. @defaultValue 3600 */
  ttlSeconds?: number;
  /**
   * Longest `publish` waits for Redis before resolving undefined, so a hung
   * Redis never holds the admission of a job (or a worker) for long. The
   * append itself stays queued and lands if Redis answers later.
   * @defaultValue 250
   */
  publishTimeoutMs?: number;
}

/** Stream entry ids compare as (ms, seq). */
export const STREAM_ID = /^\d{1,20}-\d{1,20}$/;
export function compareIds(a: string, b: string): number {
  const [am = 0, as = 0] = a.split('-').map(Number);
  const [bm = 0, bs = 0] = b.split('-').map(Number);
  return am - bm || as - bs;
}

export function parseEntry([id, fields]: [string, string[]]): JobEvent {
  const f: Record<string, string> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) f[fields[i]!] = fields[i + 1]!;
  let data: Record<string, unknown> = {};
  try {
    data = JSON.parse(f.data ?? '{}') as Record<string, unknown>;
  } catch {
    // a foreign entry: deliver its type with no data
  }
  return { id, type: (f.type ?? 'queued') as JobEventType, data };
}

/**
 * A job's status changes as a Redis stream, `<prefix>:events:<jobId>`, written
 * by whichever process saw the change (the API admits, workers run) and read
 * by any API process for GET /v1/jobs/:id/events. Entry ids are the SSE
 * event ids, so a client resumes with `Last-Event-ID`. Each append trims the
 * stream and, but for a delta, renews its TTL: a job's history outlives it by `ttlSeconds`.
 * The appends of one event-loop turn share one script call.
 */
export class JobEventLog {
  readonly #maxLen: number;
  readonly #ttl: number;
  readonly #publishTimeoutMs: number;
  readonly #appends: TurnBatch<Append>;

  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    private readonly log?: Logger,
    opts: JobEventLogOptions = {},
  ) {
    this.#maxLen = opts.maxLen ?? 1000;
    this.#ttl = opts.ttlSeconds ?? 3600;
    this.#publishTimeoutMs = opts.publishTimeoutMs ?? 250;
    defineScripts(redis);
    this.#appends = new TurnBatch<Append>(redis, (appends) => this.#send(appends));
  }

  key(jobId: string): string {
    return redisKeys(this.prefix).events(jobId);
  }

  /**
   * Appends an event. The events of one event-loop turn go as one script call (`appendEvents-n.lua`):
   * XADD each and, but for a delta, renew its stream's TTL. Never throws: a lost event must not fail
   * the job; the SSE route falls back to the row in Postgres for the final state. Never hangs either:
   * resolves within `publishTimeoutMs` with the entry, or undefined when Redis did not take it or did
   * not answer in time.
   */
  async publish(jobId: string, type: JobEventType, data: Record<string, unknown> = {}): Promise<JobEvent | undefined> {
    // A delta renews no TTL: it follows its attempt's `active`, which set one, within PROVIDER_TIMEOUT_MS
    // (at most 10 min, far inside the TTL), so a streamed answer's pieces cost no EXPIRE each.
    const appended = new Promise<string>((resolve, reject) => this.#appends.add({
      key: this.key(jobId), type, data: JSON.stringify(data), renew: type !== 'delta',
      done: (err, id) => (err ? reject(err) : resolve(id!)),
    }));
    try {
      const id = await within(appended, this.#publishTimeoutMs);
      if (id === TIMED_OUT) {
        this.log?.warn({ jobId, event: type, timeoutMs: this.#publishTimeoutMs }, 'job event not confirmed: Redis did not answer in time');
        return undefined;
      }
      return { id, type, data };
    } catch (err) {
      this.log?.warn({ err: String(err), jobId, event: type }, 'job event not recorded');
      return undefined;
    }
  }

  #send(appends: Append[]): void {
    const keys = new Array<string>(appends.length);
    const argv = new Array<string>(2 + 3 * appends.length);
    argv[0] = String(this.#maxLen);
    argv[1] = String(this.#ttl);
    for (let i = 0; i < appends.length; i++) {
      const a = appends[i]!;
      keys[i] = a.key;
      argv[2 + 3 * i] = a.type;
      argv[3 + 3 * i] = a.data;
      argv[4 + 3 * i] = a.renew ? '1' : '0';
    }
    this.redis.appendEvents(keys.length, keys, argv).then(
      (ids) => appends.forEach((a, i) => (ids[i] ? a.done(null, ids[i]) : a.done(new Error(`${a.key} is not a stream`)))),
      (err: Error) => appends.forEach((a) => a.done(err)),
    );
  }

  /**
   * Entries after `afterId` (exclusive), or all of them. Rejects when Redis does not answer within
   * `publishTimeoutMs`: the caller then answers from Postgres, the record, instead of hanging.
   */
  async after(jobId: string, afterId?: string): Promise<JobEvent[]> {
    return (await this.#bounded(this.redis.xrange(this.key(jobId), afterId ? `(${afterId}` : '-', '+'))).map(parseEntry);
  }

  /** The newest entry, if the stream still exists; rejects as `after` does. */
  async last(jobId: string): Promise<JobEvent | undefined> {
    const [entry] = await this.#bounded(this.redis.xrevrange(this.key(jobId), '+', '-', 'COUNT', 1));
    return entry ? parseEntry(entry) : undefined;
  }

  async #bounded<T>(read: Promise<T>): Promise<T> {
    const answer = await within(read, this.#publishTimeoutMs);
    if (answer === TIMED_OUT) throw new Error(`Redis did not answer within ${this.#publishTimeoutMs} ms`);
    return answer;
  }
}
