interface Slot<T> {
  chunk: number;
  read: Promise<T>;
}

/**
 * Chunks read ahead of their step, one slot per key (a partition): a step starts reading the next
 * chunk before it writes its own, and the next step takes it. A slot holds one chunk at most, so
 * a partition has at most two chunks in memory (the one being written and the one being read). A
 * failed read-ahead is not an error of anyone: the step that would take it reads the chunk itself.
 * A chunk read and never taken (replaced, another chunk asked for, closed) is handed to `drop`
 * (a chunk read into a file removes its file).
 */
export class ReadAhead<T> {
  private readonly slots = new Map<string, Slot<T>>();
  private closed = false;

  constructor(private readonly drop: (value: T) => Promise<void> = () => Promise.resolve()) {}

  /** Starts reading `chunk` into the slot `key`, replacing (and dropping) what it held. */
  start(key: string, chunk: number, read: () => Promise<T>): void {
    if (this.closed) return;
    const p = read();
    // Handled by whoever takes it; dropped reads must not surface as unhandled rejections.
    p.catch(() => undefined);
    const old = this.slots.get(key);
    if (old) void this.discard(old);
    this.slots.set(key, { chunk, read: p });
  }

  /**
   * The rows of `chunk` read ahead into slot `key` (the slot is emptied), or undefined when the
   * slot holds another chunk, nothing, or a read that failed (the caller reads it again).
   */
  async take(key: string, chunk: number): Promise<T | undefined> {
    const slot = this.slots.get(key);
    if (!slot) return undefined;
    this.slots.delete(key);
    if (slot.chunk !== chunk) {
      void this.discard(slot);
      return undefined;
    }
    return slot.read.catch(() => undefined);
  }

  /** Drops every slot and waits for the reads in flight (they hold source connections). */
  async close(): Promise<void> {
    this.closed = true;
    const reads = [...this.slots.values()].map((s) => this.discard(s));
    this.slots.clear();
    await Promise.all(reads);
  }

  private discard(slot: Slot<T>): Promise<void> {
    return slot.read.then(
      (v) => this.drop(v).catch(() => undefined),
      () => undefined,
    );
  }
}
