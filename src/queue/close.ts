import { TIMED_OUT, within } from '../util/within.js';

/**
 * Closes a BullMQ Queue, Worker or QueueEvents, or drops its connections if
 * that takes longer than `ms`: BullMQ's close can hang while its connection
 * is between reconnect attempts (seen right after a Redis restart), and a
 * shutdown must not wait on it.
 */
export async function closeBounded(x: { close(): Promise<void>; disconnect(): Promise<void> }, ms = 2000): Promise<void> {
  const closed = x.close().catch(() => {});
  // disconnect() can hang in that state too: fire it, don't wait for it.
  if ((await within(closed, ms)) === TIMED_OUT) void x.disconnect().catch(() => {});
}
