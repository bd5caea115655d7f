interface Block {
  /** Until then (performance.now() ms) the key is certainly full: no slot can free earlier. */
  fullUntil: number;
  /** No earlier than the moment a slot frees: what Retry-After reports. */
  resetAt: number;
  /** Requests the script counted in the window. */
  count: number;
}

/**
 * Keys this process knows to be full, learnt from the script's rejections, so
 * a caller hammering a blocked key costs no Redis round trip until a slot can
 * free. Exact across processes: a full window only empties as its oldest
 * entry ages out, and no process can add to it meanwhile. The one thing it
 * cannot see is an operator deleting the key by hand, which then takes effect
 * here when the block would have ended (at most one window).
 */
export class BlockedKeys {
  private readonly blocks = new Map<string, Block>();

  /** @param maxKeys - bound on remembered keys; the oldest is forgotten first. */
  constructor(private readonly maxKeys = 10_000) {}

  /** ms until a slot frees, when `key` is certainly still full for `limit`; else undefined. */
  check(key: string, limit: number, now: number): number | undefined {
    if (this.blocks.size === 0) return undefined; // the usual case: no lookup, no string hashing
    const block = this.blocks.get(key);
    if (block === undefined) return undefined;
    if (now >= block.fullUntil) {
      this.blocks.delete(key);
      return undefined;
    }
    return limit <= block.count ? block.resetAt - now : undefined;
  }

  /**
   * Remembers a rejection: the script, which ran between `sentAt` and
   * `repliedAt`, counted `count` requests, the oldest leaving `resetMs`
   * (rounded up) after it ran.
   */
  add(key: string, count: number, resetMs: number, sentAt: number, repliedAt: number): void {
    if (this.blocks.size >= this.maxKeys && !this.blocks.has(key)) {
      this.blocks.delete(this.blocks.keys().next().value!);
    }
    this.blocks.set(key, { fullUntil: sentAt + resetMs - 1, resetAt: repliedAt + resetMs, count });
  }
}
