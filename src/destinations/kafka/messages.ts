import type { Change, TableSchema } from '../../core/change';
import { formatLsn } from '../../core/lsn';
import { formatCommitLsn } from '../../wire/envelope';
import type { Codec } from '../../wire/codec';
import type { EncodedBatch } from '../destination';
import { idempotencyKey, qualifiedName, tombstoneIdempotencyKey } from '../idempotency';
import { eventsOf, type OutgoingEvent } from '../keyChanges';
import { AVRO_SCHEMA_HEADER } from '../schemaCarrier';
import { utf8Length, uvarintSize, type EncodableRecord } from './recordBatch';
import { topicFor, type TopicTemplate } from './topics';

/**
 * One Kafka record per change:
 * - key: the row's primary key (`rowKeyText`, a JSON object), so one row's changes share a partition
 *   and stay in commit order; a truncate is written to every partition of its topic instead; an
 *   update that changes the key is preceded by a delete of the old key and, with `tombstones`, a
 *   tombstone (null value, header `op=tombstone`, empty `content-type`) for it, as is every delete;
 * - value: the change in the destination's wire format (`batch.messages(format)`);
 * - headers: `op`, `table` (`schema.table`), `lsn` (the change's WAL position), `commit_lsn`, `seq`,
 *   `idempotency_key` (see src/destinations/idempotency.ts) and `content-type` (the format's MIME type);
 * - timestamp: the commit time (milliseconds).
 */
export const KAFKA_HEADERS = ['op', 'table', 'lsn', 'commit_lsn', 'seq', 'idempotency_key', 'content-type'] as const;

/** Headers whose values are ASCII by construction: op names, LSNs, numbers, hex digests, MIME types (all but `table`). */
export const KAFKA_ASCII_HEADERS: readonly boolean[] = KAFKA_HEADERS.map((h) => h !== 'table');

/** Bytes of the header names with their length prefixes, in every record. */
const HEADER_NAMES_SIZE = KAFKA_HEADERS.reduce((s, h) => s + uvarintSize(h.length * 2) + h.length, 0);

/** Bytes of the extra header's name with its length prefix (the longest name it may have). */
const EXTRA_HEADER_NAME_SIZE = uvarintSize(AVRO_SCHEMA_HEADER.length * 2) + AVRO_SCHEMA_HEADER.length;

/**
 * Room for a record's fixed fields at the largest deltas a request carries: its length prefix (5),
 * attributes (1), timestamp delta (up to 10), offset delta (5) and header count (1).
 */
const RECORD_FIXED_SIZE = 22;

/** Bytes of a length-prefixed field of `n` bytes (zigzag varint length, then the bytes). */
const field = (n: number): number => uvarintSize(n * 2) + n;

export class OutgoingRecord implements EncodableRecord {
  constructor(
    readonly topic: string,
    readonly key: string,
    /** Null for a tombstone. */
    readonly value: Uint8Array | null,
    /** Values of `KAFKA_HEADERS`, in that order. */
    readonly headerValues: readonly string[],
    readonly timestampMs: number,
    /** A truncate: delivered to every partition of the topic. */
    readonly broadcast: boolean,
    /** Bytes on the wire (the record plus room for its deltas), for sizing requests. */
    readonly size: number,
  ) {}

  /** The headers as an object (for tests and logs; the encoder reads `headerValues`). */
  get headers(): Record<string, string> {
    const out: Record<string, string> = {};
    KAFKA_HEADERS.forEach((h, i) => (out[h] = this.headerValues[i]!));
    return out;
  }

  /** The timestamp as kafkajs takes it: milliseconds, as text. */
  get timestamp(): string {
    return String(this.timestampMs);
  }
}

export interface RecordOptions {
  codec: Codec;
  topic: TopicTemplate;
  /** Null-value records after deletes (see {@link eventsOf}). */
  tombstones: boolean;
  /** A last header value per record (the Avro schema, see `SchemaCarrier`), by table. */
  extraHeader?: (schema: TableSchema) => string;
  /** Frames values (Confluent wire format), by topic. */
  frame?: (topic: string, value: Uint8Array) => Uint8Array;
  /**
   * The batch's events as the destination derived them (`eventsWithSource`, with its key-move
   * tracker); else {@link eventsOf} of this batch alone.
   */
  events?: readonly OutgoingEvent[];
}

/**
 * The records of a batch (see {@link eventsOf}): one per change; before an update that moves a row
 * to another key, a delete of the old key (and a tombstone), each keyed by its own key; a `refresh`
 * event (the key's current source row, op `read`) is a record with a value, like a change.
 */
export function recordsOf(batch: EncodedBatch, o: RecordOptions): OutgoingRecord[] {
  const values = batch.messages(o.codec.format);
  const contentType = o.codec.contentType;
  const events = o.events ?? eventsOf(batch, o.tombstones);
  const out = new Array<OutgoingRecord>(events.length);
  // Changes of one table share its topic and name; changes of one transaction its commit time.
  let lastTable: Change['table'] | undefined;
  let name = '';
  let t = '';
  let lastMicros = -1n;
  let ms = 0;
  for (let i = 0; i < events.length; i++) {
    const { kind, change, index, rowKey: key, schema } = events[i]!;
    if (change.table !== lastTable) {
      lastTable = change.table;
      name = qualifiedName(change);
      t = topicFor(o.topic, change.table);
    }
    if (change.commitTimeMicros !== lastMicros) {
      lastMicros = change.commitTimeMicros;
      ms = Number(lastMicros / 1000n);
    }
    let value = kind === 'change' ? values[index]! : kind === 'tombstone' ? null : o.codec.encodeMessage(change, schema);
    if (value !== null && o.frame) value = o.frame(t, value);
    const headerValues = [
      kind === 'tombstone' ? 'tombstone' : change.op,
      name,
      formatLsn(change.lsn),
      formatCommitLsn(change.commitLsn),
      String(change.seq),
      kind === 'tombstone' ? tombstoneIdempotencyKey(change, schema, key, name) : idempotencyKey(change, schema, key, name),
      kind === 'tombstone' ? '' : contentType,
    ];
    if (o.extraHeader) headerValues.push(kind === 'tombstone' ? '' : o.extraHeader(schema));
    let size = RECORD_FIXED_SIZE + HEADER_NAMES_SIZE + field(utf8Length(key)) + (value === null ? 1 : field(value.byteLength));
    if (o.extraHeader) size += EXTRA_HEADER_NAME_SIZE;
    // ASCII headers (all but the table name and the extra one) are as long in bytes as in chars;
    // a value of 64 bytes or more has a two-byte length prefix (an Avro schema, a long table name).
    for (let h = 0; h < headerValues.length; h++) size += field(KAFKA_ASCII_HEADERS[h] === true ? headerValues[h]!.length : utf8Length(headerValues[h]!));
    out[i] = new OutgoingRecord(t, key, value, headerValues, ms, change.op === 'truncate', size);
  }
  return out;
}

/** Splits items into requests of at most `maxBytes` (an item larger than that travels alone). */
export function chunkRecords<T extends { size: number }>(records: readonly T[], maxBytes: number): T[][] {
  const out: T[][] = [];
  let current: T[] = [];
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
