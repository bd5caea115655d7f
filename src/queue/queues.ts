import { Queue, type JobsOptions } from 'bullmq';
import type { Config } from '../config/index.js';
import type { Priority, WebhookEvent } from '../db/schema.js';
import { payloadChars, type Message } from '../llm/message.js';
import type { StoredRequest } from '../llm/stored.js';
import { bullConnection } from '../redis/client.js';
import { closeBounded } from './close.js';
import { redisKeys } from '../redis/keys.js';

/** Longest a request waits for Redis to take its jobs (fair slots, the enqueue) before answering anyway: the rows are the record. */
export const ENQUEUE_WAIT_MS = 1000;

export const GENERATION_QUEUE = 'generation';
export const DEAD_LETTER_QUEUE = 'dead-letter';
export const WEBHOOK_QUEUE = 'webhooks';
/** BullMQ backoff type of webhook deliveries: WEBHOOK_RETRY_SCHEDULE_MS (workers/webhooks.ts). */
export const WEBHOOK_BACKOFF_TYPE = 'webhook-schedule';
/** BullMQ backoff type handled by the worker's backoffStrategy (Retry-After aware). */
export const BACKOFF_TYPE = 'provider';

/** Where a job stands in its class's fair order (src/queue/fairness.ts): its class and virtual start time. */
export interface FairSlot {
  cls: Priority;
  vt: number;
}

/**
 * Everything a worker needs to run a generation, so it never has to read Postgres first:
 * its `GenerationRequest`, flattened as `StoredRequest` (`requestOf` puts it back together;
 * `prompt` only on jobs queued before `messages` existed).
 */
export interface GenerationJobData extends StoredRequest {
  id: string;
  inputHash: string;
  /** The template it was rendered from; null when the request was not built from one. */
  templateId: string | null;
  messages: Message[];
  cacheTtlSeconds: number;
  apiKeyId: string;
  /** The project the generation belongs to; absent on jobs queued before projects: `default`. */
  projectId?: string;
  requestId?: string;
  /** A Cache-Control: no-cache generation: its result replaces every process's cached copy. */
  refresh?: boolean;
  /** Queued again by the reconciler: an earlier run may have been paid and left its answer in the stash. */
  resumed?: boolean;
  /** Attempts made before this job was queued (its first ran in the process that admitted it: workers/local-start.ts). */
  priorAttempts?: number;
  /** The admitting request's W3C trace context (`traceparent`), when tracing: its attempts continue that trace. */
  trace?: Record<string, string>;
  /**
   * A caller wants the answer streamed: the provider is called in streaming mode and each
   * piece is published as a `delta` job event. Not part of the input hash.
   */
  stream?: boolean;
  /** Tokens held in the key's token window at admission, for the worker to reconcile; absent on a rebuilt or unchecked job. */
  tpm?: { id: string; tokens: number };
  /** Its place in its class's fair order (src/queue/fairness.ts); absent on a job queued again from its row. */
  fair?: FairSlot;
  /** `Cancel-After` at admission, epoch ms: when the worker checks the row's deadline (joiners may move it). */
  cancelAt?: number;
  /** The messages are too large to carry in Redis (`forQueue`): `messages` is empty and the worker reads them from the row. */
  messagesInRow?: boolean;
}

/** Messages of more than this many characters (a base64 image, a PDF) stay in Postgres, not in the job's Redis hash. */
export const JOB_DATA_MESSAGES_MAX_CHARS = 64 * 1024;

/**
 * Job data as it is queued: a request whose messages are large (images, documents) leaves them in
 * its row, the record, and the worker reads them from there; Redis then holds kilobytes per job,
 * not megabytes, and the bytes are sent over the network once fewer.
 */
export function forQueue<T extends GenerationJobData>(data: T): T {
  return payloadChars(data.messages) > JOB_DATA_MESSAGES_MAX_CHARS ? { ...data, messages: [], messagesInRow: true } : data;
}

export interface DeadLetterData extends GenerationJobData {
  error: { code: string; message: string };
  attempts: number;
}

/** One webhook message: its body is fixed when the event happens, so every attempt sends the same bytes. */
export interface WebhookJobData {
  /** The `webhook-id` header, also the BullMQ job id: one message per event and subscriber. */
  messageId: string;
  event: WebhookEvent;
  apiKeyId: string;
  url: string;
  generationId?: string;
  batchId?: string;
  body: string;
}

export interface Queues {
  generation: Queue<GenerationJobData>;
  deadLetter: Queue<DeadLetterData>;
  webhooks: Queue<WebhookJobData>;
  /** Options of every generation job; the job id is always the generation id. `priority`: BullMQ's (see fairness.ts). */
  jobOptions(id: string, priority: number): JobsOptions;
  close(): Promise<void>;
}

export function createQueues(config: Config): Queues {
  const bull = bullConnection(config);
  const keys = redisKeys(config.REDIS_PREFIX);
  const generation = new Queue<GenerationJobData>(GENERATION_QUEUE, { connection: bull.connection, prefix: keys.bull(GENERATION_QUEUE) });
  const deadLetter = new Queue<DeadLetterData>(DEAD_LETTER_QUEUE, { connection: bull.connection, prefix: keys.bull(DEAD_LETTER_QUEUE) });
  const webhooks = new Queue<WebhookJobData>(WEBHOOK_QUEUE, {
    connection: bull.connection,
    prefix: keys.bull(WEBHOOK_QUEUE),
    defaultJobOptions: {
      attempts: config.WEBHOOK_MAX_ATTEMPTS,
      backoff: { type: WEBHOOK_BACKOFF_TYPE },
      // Postgres keeps every attempt; BullMQ keeps the job (and so its id, which dedupes) for a week.
      removeOnComplete: { age: 7 * 86_400 },
      removeOnFail: { age: 7 * 86_400 },
    },
  });
  // Connection errors are retried by ioredis; callers see failures as rejected or slow commands.
  for (const q of [generation, deadLetter, webhooks]) q.on('error', () => {});
  return {
    generation,
    deadLetter,
    webhooks,
    jobOptions: (id, priority) => ({
      jobId: id,
      priority,
      attempts: config.JOB_ATTEMPTS,
      backoff: { type: BACKOFF_TYPE, delay: config.JOB_BACKOFF_MS },
      // Postgres is the record; BullMQ keeps enough for Bull Board and debugging.
      removeOnComplete: { age: 3600, count: 5000 },
      removeOnFail: { age: 7 * 86_400 },
    }),
    async close() {
      await Promise.all([closeBounded(generation), closeBounded(deadLetter), closeBounded(webhooks)]);
      await bull.close();
    },
  };
}
