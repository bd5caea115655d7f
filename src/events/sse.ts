import type { FastifyReply, FastifyRequest } from 'fastify';
import { EVERY_PROJECT } from '../auth/caller.js';
import type { GenerationRow } from '../db/schema.js';
import { isSettled, jobOutcome } from '../jobs/dto.js';
import type { Jobs } from '../jobs/service.js';
import { sseStreams } from '../metrics/registry.js';
import { STREAM_ID, type JobEvent, type JobEventLog } from './job-events.js';
import type { JobEventTail } from './tail.js';

export interface JobStreamsDeps {
  events: JobEventLog;
  tail: JobEventTail;
  jobs: Pick<Jobs, 'get'>;
  /** Interval of `: ping` comments (and of the check that the job did not end unseen). @defaultValue 15000 */
  heartbeatMs?: number;
}

/**
 * GET /v1/jobs/:id/events: a job's status changes as Server-Sent Events, from
 * its Redis event stream (any API process can serve any job; workers write
 * the events). The stream ends after `completed` or `dead`; a client that
 * reconnects with the id of that last event gets 204, which tells an
 * EventSource to stop. Postgres stays the record: if the job ended but its
 * stream lacks the final event (expired, or lost while Redis was down), the
 * final event is rebuilt from the row.
 */
export class JobStreams {
  readonly #open = new Set<() => void>();
  readonly #heartbeatMs: number;

  constructor(private readonly deps: JobStreamsDeps) {
    this.#heartbeatMs = deps.heartbeatMs ?? 15_000;
  }

  async serve(request: FastifyRequest, reply: FastifyReply, jobId: string, lastEventId: string | undefined): Promise<void> {
    const { events, jobs, tail } = this.deps;
    // 404 before any byte of the stream, for another project's job too; later reads are of this same job.
    const row = await jobs.get(jobId, request.caller ?? EVERY_PROJECT);
    const after = lastEventId && STREAM_ID.test(lastEventId) ? lastEventId : undefined;
    const backlog = this.#backlog(await events.after(jobId, after).catch(() => []), after);
    const ends = backlog.some((e) => isSettled(e.type));
    if (!ends && isSettled(row.status)) {
      const last = after && backlog.length === 0 ? await events.last(jobId).catch(() => undefined) : undefined;
      if (last && isSettled(last.type)) return void reply.code(204).send(); // this client saw the end
      backlog.push(await this.#finalFrom(row));
    }

    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no', // nginx: do not buffer the stream
      'x-request-id': request.id,
    });
    res.write('retry: 2000\n\n');
    sseStreams.inc();

    let ended = false;
    let unsubscribe: (() => void) | undefined;
    let chain = Promise.resolve();
    const heartbeat = setInterval(() => {
      res.write(': ping\n\n');
      // The job ended but its final event never came (Redis lost it): tell the client from the record.
      void jobs.get(jobId, EVERY_PROJECT).then(async (r) => { if (isSettled(r.status) && !ended) send(await this.#finalFrom(r)); }, () => {});
    }, this.#heartbeatMs);
    heartbeat.unref();
    const end = () => {
      if (ended) return;
      ended = true;
      unsubscribe?.();
      clearInterval(heartbeat);
      this.#open.delete(end);
      sseStreams.dec();
      res.end();
    };
    const write = async (e: JobEvent) => {
      if (ended) return;
      const data = isSettled(e.type) ? jobOutcome(await jobs.get(jobId, EVERY_PROJECT)) : { jobId, status: e.type === 'retrying' ? 'failed' : e.type, ...e.data };
      if (ended) return;
      res.write(`${e.id ? `id: ${e.id}\n` : ''}event: ${e.type}\ndata: ${JSON.stringify(data)}\n\n`);
      if (isSettled(e.type)) end();
    };
    // One event at a time, in stream order, even while a final event reads Postgres.
    const send = (e: JobEvent) => {
      chain = chain.then(() => write(e)).catch((err: unknown) => {
        request.log.warn({ err: String(err) }, 'event stream failed');
        end();
      });
    };

    this.#open.add(end);
    request.raw.on('close', end);
    for (const e of backlog) send(e);
    if (!ends && !isSettled(row.status)) unsubscribe = tail.subscribe(jobId, backlog.at(-1)?.id ?? after ?? '0-0', send);
  }

  /**
   * What a client gets first: after its Last-Event-ID, up to the first final
   * event; without one, the current run of the job (a replayed job's stream
   * holds its earlier runs too, each ended by `dead`).
   */
  #backlog(entries: JobEvent[], after: string | undefined): JobEvent[] {
    let start = 0;
    if (!after) for (let i = entries.length - 2; i >= 0; i--) if (isSettled(entries[i]!.type)) { start = i + 1; break; }
    const rest = entries.slice(start);
    const end = rest.findIndex((e) => isSettled(e.type));
    return end >= 0 ? rest.slice(0, end + 1) : rest;
  }

  /** The final event of a settled row, appended to its stream (so it has an id to resume from) when Redis takes it. */
  async #finalFrom(row: GenerationRow): Promise<JobEvent> {
    const type = row.status === 'completed' || row.status === 'canceled' ? row.status : 'dead';
    return (await this.deps.events.publish(row.id, type, { attempt: row.attempts })) ?? { id: '', type, data: {} };
  }

  /**
   * Calls `deliver` with every event of `jobId` from the first entry of its stream (XRANGE
   * from `-`), then as they are appended (the tail), in order, until the returned function is
   * called. How a streamed compat call relays its job: every caller attached to the job gets
   * the whole stream, whenever it arrives.
   */
  async follow(jobId: string, deliver: (event: JobEvent) => void): Promise<() => void> {
    // A hung Redis gives no backlog: the caller's check of the row answers instead.
    const backlog = await this.deps.events.after(jobId).catch((): JobEvent[] => []);
    for (const e of backlog) deliver(e);
    return this.deps.tail.subscribe(jobId, backlog.at(-1)?.id ?? '0-0', deliver);
  }

  /** Ends every open stream (server shutdown): clients reconnect, with Last-Event-ID, to another process. */
  closeAll(): void {
    for (const end of [...this.#open]) end();
  }
}
