import type { Batch, TableSchema } from '../core/change';

const NOT_READY = Symbol('not-ready');

/**
 * Reads source batches for delivery. When the source already holds decoded batches (a backlog),
 * consecutive ones are merged into one write of up to `maxRows` changes, without waiting for
 * anything not yet decoded: destinations pay their per-write cost (a transaction, a request,
 * an fsync) once per merged batch, while an idle stream still delivers each batch at once.
 * Never merges across an empty batch or a change of a table's schema; order is kept.
 */
export class BatchReader {
  private pending?: Promise<IteratorResult<Batch>>;
  private held?: Batch;
  private ended = false;

  constructor(
    private readonly source: AsyncIterator<Batch>,
    private readonly maxRows: number,
  ) {}

  /** The next batch to write, or null when the source ended. */
  async next(): Promise<Batch | null> {
    const first = await this.take();
    if (!first || first.changes.length === 0) return first;
    const parts: Batch[] = [first];
    let rows = first.changes.length;
    while (rows < this.maxRows && !this.ended) {
      this.pending ??= this.source.next();
      const ready = await Promise.race([this.pending, new Promise<typeof NOT_READY>((r) => setImmediate(() => r(NOT_READY)))]);
      if (ready === NOT_READY) break;
      this.pending = undefined;
      if (ready.done) {
        this.ended = true;
        break;
      }
      const b = ready.value;
      if (b.changes.length === 0 || rows + b.changes.length > this.maxRows || schemaChanged(parts, b)) {
        this.held = b;
        break;
      }
      parts.push(b);
      rows += b.changes.length;
    }
    return parts.length === 1 ? first : merge(parts);
  }

  private async take(): Promise<Batch | null> {
    if (this.held) {
      const b = this.held;
      this.held = undefined;
      return b;
    }
    if (this.ended) return null;
    const r = await (this.pending ?? this.source.next());
    this.pending = undefined;
    if (r.done) {
      this.ended = true;
      return null;
    }
    return r.value;
  }
}

function sameSchema(a: TableSchema, b: TableSchema): boolean {
  return a === b || JSON.stringify(a) === JSON.stringify(b);
}

function schemaChanged(parts: Batch[], next: Batch): boolean {
  for (const [key, schema] of next.schemas) {
    for (const p of parts) {
      const known = p.schemas.get(key);
      if (known && !sameSchema(known, schema)) return true;
    }
  }
  return false;
}

function merge(parts: Batch[]): Batch {
  const schemas = new Map<string, TableSchema>();
  for (const p of parts) for (const [k, s] of p.schemas) schemas.set(k, s);
  const last = parts[parts.length - 1]!;
  const ddl = parts.flatMap((p) => p.ddl ?? []);
  return {
    ...(ddl.length > 0 ? { ddl } : {}),
    flowId: parts[0]!.flowId,
    changes: parts.flatMap((p) => p.changes),
    schemas,
    firstLsn: parts[0]!.firstLsn,
    checkpointLsn: parts.reduce((m, p) => (p.checkpointLsn > m ? p.checkpointLsn : m), last.checkpointLsn),
  };
}
