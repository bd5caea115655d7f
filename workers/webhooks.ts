import { UnrecoverableError, Worker, type Job } from 'bullmq';
import { and, eq } from 'drizzle-orm';
import type { Logger } from 'pino';
import type { Config } from '../src/config/index.js';
import type { Db } from '../src/db/client.js';
import { apiKeys, webhookAttempts, webhookDisabled } from '../src/db/schema.js';
import { WEBHOOK_BACKOFF_TYPE, WEBHOOK_QUEUE, type WebhookJobData } from '../src/queue/queues.js';
import { bullConnection } from '../src/redis/client.js';
import { closeWorker, Running } from '../src/queue/close.js';
import { deliverWebhook } from '../src/webhooks/deliver.js';
import { signWebhook } from '../src/webhooks/signature.js';
import { redisKeys } from '../src/redis/keys.js';

/** WEBHOOK_RETRY_SCHEDULE_MS as numbers: the delay before attempt n+1 is `schedule[n-1]`, the last repeating. */
export const retrySchedule = (config: Pick<Config, 'WEBHOOK_RETRY_SCHEDULE_MS'>): number[] => config.WEBHOOK_RETRY_SCHEDULE_MS.split(',').map(Number);

/** A non-2xx answer or no answer: the attempt failed and BullMQ schedules the next one. */
class DeliveryFailed extends Error {
  override name = 'DeliveryFailed';
}

/**
 * Delivers webhook messages (Standard Webhooks): signs each attempt with the key's current secret,
 * records it in `webhook_attempts`, and retries on the spec's schedule until a 2xx. A 410 disables
 * that URL for the key (no more attempts, no new subscriptions); so does nothing else.
 */
export function startWebhookWorker(deps: { config: Config; db: Db; log: Logger }): { close(): Promise<void> } {
  const { config, db, log } = deps;
  const schedule = retrySchedule(config);

  async function deliver(job: Job<WebhookJobData>) {
    const d = job.data;
    const attempt = job.attemptsMade + 1;
    const [key] = await db.select({ secret: apiKeys.webhookSecret, disabled: webhookDisabled.url }).from(apiKeys)
      .leftJoin(webhookDisabled, and(eq(webhookDisabled.apiKeyId, apiKeys.id), eq(webhookDisabled.url, d.url)))
      .where(eq(apiKeys.id, d.apiKeyId));
    if (key?.disabled) return { skipped: 'disabled' };
    const record = (r: { statusCode: number | null; durationMs: number; error: string | null; delivered: boolean }) =>
      db.insert(webhookAttempts).values({
        messageId: d.messageId, generationId: d.generationId ?? null, batchId: d.batchId ?? null, apiKeyId: d.apiKeyId,
        event: d.event, url: d.url, attempt, ...r,
      });
    if (!key?.secret) {
      await record({ statusCode: null, durationMs: 0, error: 'the key has no webhook secret (or no longer exists)', delivered: false });
      throw new UnrecoverableError('no webhook secret');
    }
    const timestamp = Math.floor(Date.now() / 1000);
    const res = await deliverWebhook(d.url, {
      'webhook-id': d.messageId, 'webhook-timestamp': String(timestamp), 'webhook-signature': signWebhook(key.secret, d.messageId, timestamp, d.body),
    }, d.body, { timeoutMs: config.WEBHOOK_TIMEOUT_MS, allowPrivate: config.WEBHOOK_ALLOW_PRIVATE });
    const delivered = res.statusCode !== null && res.statusCode >= 200 && res.statusCode < 300;
    await record({ statusCode: res.statusCode, durationMs: res.durationMs, error: res.error, delivered });
    if (delivered) return { delivered: true };
    if (res.statusCode === 410) {
      await db.insert(webhookDisabled).values({ apiKeyId: d.apiKeyId, url: d.url }).onConflictDoNothing();
      log.warn({ url: d.url, apiKeyId: d.apiKeyId }, 'webhook endpoint answered 410 Gone: disabled for this key');
      throw new UnrecoverableError('410 Gone: endpoint disabled');
    }
    if (res.blocked) throw new UnrecoverableError(res.error ?? 'blocked address');
    throw new DeliveryFailed(res.error ?? `answered ${res.statusCode}`);
  }

  const bull = bullConnection(config);
  const running = new Running();
  const worker = new Worker<WebhookJobData>(WEBHOOK_QUEUE, running.wrap(deliver), {
    connection: bull.connection,
    prefix: redisKeys(config.REDIS_PREFIX).bull(WEBHOOK_QUEUE),
    concurrency: config.WEBHOOK_CONCURRENCY,
    settings: {
      backoffStrategy: (attemptsMade, type) =>
        type === WEBHOOK_BACKOFF_TYPE ? (schedule[Math.min(attemptsMade, schedule.length) - 1] ?? 0) : 0,
    },
  });
  worker.on('error', (err) => log.error({ err: String(err) }, 'webhook worker error'));
  worker.on('closed', () => void bull.close());
  return { close: () => closeWorker(worker, running) };
}
