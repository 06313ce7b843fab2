/**
 * Buffers for produce requests, reused across requests. A fresh buffer of a few hundred KB costs a
 * page fault per 4 KiB page on first write (about as much CPU as encoding the records into it), so
 * the frames of acknowledged requests are kept and written over by later requests.
 *
 * Contract:
 * - `take(size)` returns a buffer of exactly `size` bytes, contents unspecified; it is either fresh
 *   or one given back by `give`, never one still held by a caller.
 * - `give(frame)` hands a frame from `take` back: the caller must not read or write it afterwards,
 *   and nothing else may still read it (a socket write still in progress counts; a request whose
 *   response arrived is done with). Frames are only ever given back, never required back: a frame
 *   that is never given back is simply garbage collected.
 * - At most `keep` buffers are held; small frames (under `minBytes`) are not pooled.
 */
export class FramePool {
  private readonly free: Buffer[] = [];

  constructor(
    private readonly keep = 4,
    private readonly minBytes = 64 * 1024,
  ) {}

  take(size: number): Buffer {
    if (size < this.minBytes) return Buffer.allocUnsafe(size);
    let best = -1;
    for (let i = 0; i < this.free.length; i++) {
      const b = this.free[i]!;
      if (b.length >= size && (best < 0 || b.length < this.free[best]!.length)) best = i;
    }
    const whole = best >= 0 ? this.free.splice(best, 1)[0]! : Buffer.allocUnsafeSlow(roundUp(size));
    return whole.subarray(0, size);
  }

  give(frame: Buffer): void {
    if (frame.length < this.minBytes || frame.byteOffset !== 0) return;
    const whole = Buffer.from(frame.buffer, 0, frame.buffer.byteLength);
    if (this.free.some((b) => b.buffer === whole.buffer)) return;
    if (this.free.length >= this.keep) {
      // Keep the larger buffers: they serve every size.
      let smallest = 0;
      for (let i = 1; i < this.free.length; i++) if (this.free[i]!.length < this.free[smallest]!.length) smallest = i;
      if (this.free[smallest]!.length >= whole.length) return;
      this.free.splice(smallest, 1);
    }
    this.free.push(whole);
  }

  /** Buffers held (for tests). */
  get size(): number {
    return this.free.length;
  }
}

/** Capacity for `size` bytes: the next multiple of 64 KiB, so requests of similar sizes share buffers. */
function roundUp(size: number): number {
  return Math.ceil(size / 65536) * 65536;
}
