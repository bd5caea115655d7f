import type { RedisClient } from '../../src/redis/client.js';

/** The names of the commands `redis` sends while `run` runs, counted where the client sends them (other clients do not count). */
export async function commandsSent(redis: RedisClient, run: () => Promise<unknown>): Promise<string[]> {
  const sent: string[] = [];
  const send = redis.sendCommand;
  redis.sendCommand = function (this: RedisClient, cmd: { name: string }, ...rest: unknown[]) {
    sent.push(cmd.name);
    return (send as (...a: unknown[]) => unknown).call(this, cmd, ...rest);
  } as typeof send;
  try {
    await run();
  } finally {
    redis.sendCommand = send;
  }
  return sent;
}
