import { groupByTable, tableKey, type Batch, type Change } from '../core/change';
import type { EncodedBatch } from '../destinations/destination';
import type { Codec, WireFormat } from '../wire/codec';

/**
 * Wraps a batch so each wire format is encoded at most once, however many destinations ask:
 * `messages(f)` and `files(f)` are computed on first use and memoized.
 */
export function toEncodedBatch(batch: Batch, codecFor: (f: WireFormat) => Codec): EncodedBatch {
  const messageCache = new Map<WireFormat, Uint8Array[]>();
  const fileCache = new Map<WireFormat, Map<string, Uint8Array>>();
  return {
    ...batch,
    messages(format: WireFormat): Uint8Array[] {
      let out = messageCache.get(format);
      if (!out) {
        const codec = codecFor(format);
        out = batch.changes.map((c) => codec.encodeMessage(c, schemaOf(batch, c)));
        messageCache.set(format, out);
      }
      return out;
    },
    files(format: WireFormat): Map<string, Uint8Array> {
      let out = fileCache.get(format);
      if (!out) {
        const codec = codecFor(format);
        out = new Map();
        for (const [k, changes] of groupByTable(batch.changes)) out.set(k, codec.encodeFile(changes, schemaOf(batch, changes[0]!)));
        fileCache.set(format, out);
      }
      return out;
    },
  };
}

function schemaOf(batch: Batch, c: Change) {
  const s = batch.schemas.get(tableKey(c.table));
  if (!s) throw new Error(`batch has no schema for ${tableKey(c.table)}`);
  return s;
}
