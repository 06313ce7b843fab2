import { tableKey, type Change } from '../../core/change';
import { formatLsn } from '../../core/lsn';
import type { WireFormat } from '../../wire/codec';
import type { EncodedBatch } from '../destination';
import { idempotencyKey, qualifiedName, rowKeyText } from '../idempotency';
import { topicFor, type TopicTemplate } from './topics';

/**
 * One Kafka record per change:
 * - key: the row's primary key (`rowKeyText`, a JSON object), so one row's changes share a partition
 *   and stay in commit order; a truncate is written to every partition of its topic instead;
 * - value: the change in the destination's wire format (`batch.messages(format)`);
 * - headers: `op`, `table` (`schema.table`), `lsn` (the change's WAL position), `commit_lsn`, `seq`,
 *   `idempotency_key` (see src/destinations/idempotency.ts) and `content-type` (the format's MIME type);
 * - timestamp: the commit time (milliseconds).
 */
export interface OutgoingRecord {
  topic: string;
  key: string;
  value: Buffer;
  headers: Record<string, string>;
  timestamp: string;
  /** A truncate: delivered to every partition of the topic. */
  broadcast: boolean;
  /** Approximate bytes on the wire, for sizing requests. */
  size: number;
}

export const KAFKA_HEADERS = ['op', 'table', 'lsn', 'commit_lsn', 'seq', 'idempotency_key', 'content-type'] as const;

export function recordsOf(batch: EncodedBatch, format: WireFormat, contentType: string, topic: TopicTemplate): OutgoingRecord[] {
  const values = batch.messages(format);
  const topics = new Map<string, string>();
  return batch.changes.map((change: Change, i) => {
    const name = qualifiedName(change);
    let t = topics.get(name);
    if (t === undefined) topics.set(name, (t = topicFor(topic, change.table)));
    const schema = batch.schemas.get(tableKey(change.table))!;
    const key = rowKeyText(change, schema);
    const bytes = values[i]!;
    const value = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const headers: Record<string, string> = {
      op: change.op,
      table: name,
      lsn: formatLsn(change.lsn),
      commit_lsn: formatLsn(change.commitLsn),
      seq: String(change.seq),
      idempotency_key: idempotencyKey(change, schema, key),
      'content-type': contentType,
    };
    return {
      topic: t,
      key,
      value,
      headers,
      timestamp: String(change.commitTimeMicros / 1000n),
      broadcast: change.op === 'truncate',
      size: value.byteLength + key.length + 200,
    };
  });
}

/** Splits records into requests of at most `maxBytes` (a record larger than that travels alone). */
export function chunkRecords(records: OutgoingRecord[], maxBytes: number): OutgoingRecord[][] {
  const out: OutgoingRecord[][] = [];
  let current: OutgoingRecord[] = [];
  let bytes = 0;
  for (const r of records) {
    if (current.length > 0 && bytes + r.size > maxBytes) {
      out.push(current);
      current = [];
      bytes = 0;
    }
    current.push(r);
    bytes += r.size;
  }
  if (current.length > 0) out.push(current);
  return out;
}
