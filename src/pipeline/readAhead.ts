import type { Change } from '../core/change';

interface Slot {
  chunk: number;
  read: Promise<Change[]>;
}

/**
 * Chunks read ahead of their step, one slot per key (a partition): a step starts reading the next
 * chunk before it writes its own, and the next step takes it. A slot holds one chunk at most, so
 * a partition has at most two chunks in memory (the one being written and the one being read). A
 * failed read-ahead is not an error of anyone: the step that would take it reads the chunk itself.
 */
export class ReadAhead {
  private readonly slots = new Map<string, Slot>();
  private closed = false;

  /** Starts reading `chunk` into the slot `key`, replacing (and dropping) what it held. */
  start(key: string, chunk: number, read: () => Promise<Change[]>): void {
    if (this.closed) return;
    const p = read();
    // Handled by whoever takes it; dropped reads must not surface as unhandled rejections.
    p.catch(() => undefined);
    this.slots.set(key, { chunk, read: p });
  }

  /**
   * The rows of `chunk` read ahead into slot `key` (the slot is emptied), or undefined when the
   * slot holds another chunk, nothing, or a read that failed (the caller reads it again).
   */
  async take(key: string, chunk: number): Promise<Change[] | undefined> {
    const slot = this.slots.get(key);
    if (!slot) return undefined;
    this.slots.delete(key);
    if (slot.chunk !== chunk) return undefined;
    return slot.read.catch(() => undefined);
  }

  /** Drops every slot and waits for the reads in flight (they hold source connections). */
  async close(): Promise<void> {
    this.closed = true;
    const reads = [...this.slots.values()].map((s) => s.read.catch(() => undefined));
    this.slots.clear();
    await Promise.all(reads);
  }
}
