import calculateSlot from 'cluster-key-slot';
import { Cluster } from 'ioredis';
import type { RedisClient } from './client.js';

/**
 * Collects the items of one event-loop turn and hands them over together in the
 * check phase, after the poll phase has read every socket that was ready: the
 * caller sends each hand-over as one script call (one EVALSHA) instead of one
 * command per item. Redis runs a script's fixed part (about 23k instructions
 * for EVALSHA) once per turn instead of once per item, and ioredis builds one
 * command instead of many.
 *
 * On a cluster, one hand-over per hash slot (a script's keys must share one);
 * items of one key stay in the order they were added. The client should list the
 * script in `autoPipeliningIgnoredCommands` (`createRedis` does): auto-pipelining
 * would hold the call back one more turn.
 */
export class TurnBatch<T extends { key: string }> {
  private items: T[] = [];
  private scheduled = false;

  /**
   * @param run - sends one hand-over, its items in the order they were added.
   * @param maxItems - items per hand-over at most, so that one script run never holds Redis for long.
   */
  constructor(
    private readonly redis: RedisClient,
    private readonly run: (items: T[]) => void,
    private readonly maxItems = 128,
  ) {}

  add(item: T): void {
    this.items.push(item);
    if (this.items.length >= this.maxItems) this.send();
    else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.onImmediate);
    }
  }

  private readonly onImmediate = () => {
    this.scheduled = false;
    this.send();
  };

  private send(): void {
    const items = this.items;
    if (items.length === 0) return;
    this.items = [];
    if (!(this.redis instanceof Cluster)) {
      this.run(items);
      return;
    }
    const bySlot = new Map<number, T[]>();
    for (const item of items) {
      const slot = calculateSlot(item.key);
      const group = bySlot.get(slot);
      if (group) group.push(item);
      else bySlot.set(slot, [item]);
    }
    for (const group of bySlot.values()) this.run(group);
  }
}
