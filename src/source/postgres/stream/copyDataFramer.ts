/**
 * Splits the bytes of a PostgreSQL connection into protocol messages (a type byte, then an int32
 * length that counts itself), so CopyData messages can be handled where they lie in the socket's
 * buffer: no per-message buffer view, message object or event. Every other message is handed,
 * whole and in order, to `other` (node pg's own parser, which then sees only complete messages).
 * A message cut across socket reads is reassembled in a buffer of its own first.
 */
export class CopyDataFramer {
  /** Bytes of a message cut at the end of the last read (`partialLength` of them are filled). */
  private partial: Buffer | null = null;
  private partialLength = 0;
  /** While false, CopyData messages too go to `other` (before streaming started). */
  streaming = false;
  private broken = false;

  constructor(
    /** A CopyData message's payload: `buf[start..end)` (valid only during the call). */
    private readonly onCopyData: (buf: Buffer, start: number, end: number) => void,
    private readonly other: (message: Buffer) => void,
    /** The byte stream is not the protocol (a length below 4): nothing more is read. */
    private readonly onMalformed: (e: Error) => void,
  ) {}

  /** True when the last read ended inside a message (its remaining bytes are on the way). */
  get holdsPartial(): boolean {
    return this.partial !== null;
  }

  push(chunk: Buffer): void {
    if (this.broken) return;
    let pos = 0;
    if (this.partial) {
      pos = this.completePartial(chunk);
      if (this.partial || this.broken) return;
    }
    const n = chunk.length;
    while (pos + 5 <= n) {
      const length = chunk.readUInt32BE(pos + 1);
      if (length < 4) return this.malformed(length);
      const end = pos + 1 + length;
      if (end > n) break;
      this.message(chunk, pos, end);
      pos = end;
    }
    if (pos < n) this.keep(chunk, pos);
  }

  private malformed(length: number): void {
    this.broken = true;
    this.partial = null;
    this.onMalformed(new Error(`malformed protocol message from the server (length ${length})`));
  }

  private message(buf: Buffer, start: number, end: number): void {
    if (this.streaming && buf[start] === 0x64 /* d: CopyData */) this.onCopyData(buf, start + 5, end);
    else this.other(buf.subarray(start, end));
  }

  /** Starts a partial message with `chunk[from..]`. */
  private keep(chunk: Buffer, from: number): void {
    const have = chunk.length - from;
    const size = have >= 5 ? 1 + chunk.readUInt32BE(from + 1) : 5;
    this.partial = Buffer.allocUnsafe(Math.max(size, 64));
    chunk.copy(this.partial, 0, from);
    this.partialLength = have;
  }

  /** Adds the head of `chunk` to the partial message; handles it once whole. Returns the bytes of `chunk` used. */
  private completePartial(chunk: Buffer): number {
    let used = 0;
    if (this.partialLength < 5) {
      used = Math.min(5 - this.partialLength, chunk.length);
      chunk.copy(this.partial!, this.partialLength, 0, used);
      this.partialLength += used;
      if (this.partialLength < 5) return used;
      const length = this.partial!.readUInt32BE(1);
      if (length < 4) {
        this.malformed(length);
        return chunk.length;
      }
      const size = 1 + length;
      if (size > this.partial!.length) {
        const grown = Buffer.allocUnsafe(size);
        this.partial!.copy(grown, 0, 0, this.partialLength);
        this.partial = grown;
      }
    }
    const size = 1 + this.partial!.readUInt32BE(1);
    const take = Math.min(size - this.partialLength, chunk.length - used);
    chunk.copy(this.partial!, this.partialLength, used, used + take);
    this.partialLength += take;
    used += take;
    if (this.partialLength === size) {
      const whole = this.partial!;
      this.partial = null;
      this.partialLength = 0;
      this.message(whole, 0, size);
    }
    return used;
  }
}
