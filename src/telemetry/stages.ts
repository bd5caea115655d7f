import { channel } from 'node:diagnostics_channel';

/**
 * The moments of a generation between its admission and its first relayed piece, published on the
 * diagnostics channel `promptlab:stage` as `{ jobId, stage, at }` (`at`: performance.now()). Nothing
 * subscribes in production, where each call site is one `hasSubscribers` test; `npm run bench:stream`
 * subscribes in-process to print where the time to first token goes.
 */
export type Stage = 'admitted' | 'enqueued' | 'picked' | 'claimed' | 'calling' | 'delta' | 'relayed';

const stages = channel('promptlab:stage');

export function stage(jobId: string, name: Stage): void {
  if (stages.hasSubscribers) stages.publish({ jobId, stage: name, at: performance.now() });
}
