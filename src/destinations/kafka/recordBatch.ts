import { COMPRESSION_ATTRIBUTE, recordCompressor, type RecordCompression, type RecordCompressor } from './compression';
import { crc32c } from './crc32c';
import { FramePool } from './framePool';

/**
 * The body of a Kafka Produce request (versions 3–7 share it) holding one record batch (magic 2)
 * per partition, written into a single buffer sized in advance: no per-record or per-header
 * buffers, string bytes written in place. The bytes are those kafkajs 2.2.4 writes for the same
 * records (a unit test compares them), so brokers see nothing new:
 *
 *   transactional_id (null) · acks · timeout · [topic · [partition · record_set]]
 *   record batch: base offset 0 · length · leader epoch 0 · magic 2 · CRC-32C · attributes
 *     (compression) · last offset delta · first/max timestamp · producer id -1 · epoch 0 ·
 *     base sequence 0 · [record] (compressed: the records as one block, see compression.ts)
 *   record: length · attributes 0 · timestamp delta · offset delta · key · value · [header]
 *
 * The first timestamp of a batch is its records' smallest, so every delta is ≥ 0.
 */

export type { RecordCompression } from './compression';

export interface EncodableRecord {
  /** The record key as text (written as its UTF-8 bytes). */
  key: string;
  /** The value; null for a tombstone (log compaction then removes the key). */
  value: Uint8Array | null;
  /** Header values, index-aligned with the encoder's header names. */
  headerValues: readonly string[];
  /** Record timestamp, milliseconds since the epoch (an integer). */
  timestampMs: number;
}

export interface PartitionRecords {
  partition: number;
  records: readonly EncodableRecord[];
}

export interface TopicRecords {
  topic: string;
  partitions: readonly PartitionRecords[];
}

export interface ProduceRequestOptions {
  /** -1 (all in-sync replicas), 1 or 0. */
  acks: number;
  timeoutMs: number;
  compression: RecordCompression;
  /** Header names of every record, in order. */
  headerNames: readonly string[];
  /**
   * Per header (index-aligned with `headerNames`): true when its values are ASCII by construction
   * (hex digits, numbers, fixed words), so their byte length is their length and no scan is needed.
   */
  asciiHeaders?: readonly boolean[];
}

/** Bytes of a record batch before its records: offset, length, epoch, magic, CRC, attributes ... count. */
const BATCH_OVERHEAD = 8 + 4 + 4 + 1 + 4 + 2 + 4 + 8 + 8 + 8 + 2 + 4 + 4;
/** Offset of the attributes field (start of the CRC's range) from the start of a record batch. */
const ATTRIBUTES_AT = 8 + 4 + 4 + 1 + 4;

/** Encodes produce request bodies for one destination (header names and options fixed). */
export class ProduceRequestEncoder {
  private readonly names: Buffer[];
  /** Bytes of the header names with their length prefixes. */
  private readonly namesSize: number;
  private readonly attributes: number;
  private readonly compress?: RecordCompressor;
  private readonly ascii: boolean[];
  private readonly frames = new FramePool();

  constructor(private readonly o: ProduceRequestOptions) {
    this.ascii = o.headerNames.map((_, i) => o.asciiHeaders?.[i] === true);
    this.names = o.headerNames.map((n) => {
      const bytes = Buffer.from(n, 'utf8');
      const out = Buffer.allocUnsafe(uvarintSize(bytes.length * 2) + bytes.length);
      bytes.copy(out, writeUvarint(out, 0, bytes.length * 2));
      return out;
    });
    this.namesSize = this.names.reduce((s, b) => s + b.length, 0);
    this.attributes = COMPRESSION_ATTRIBUTE[o.compression];
    this.compress = recordCompressor(o.compression);
  }

  /** Encoded size of one record with the given deltas (for sizing requests before grouping). */
  recordSize(r: EncodableRecord, offsetDelta = 0, timestampDelta = 0): number {
    const body = this.bodySize(r, offsetDelta, timestampDelta, null, 0);
    return uvarintSize(body * 2) + body;
  }

  /**
   * The request body for `topics` (each partition's records in order), after `headroom` bytes left
   * unwritten (room for the request header, see `ProducerCluster#produce`).
   */
  async encode(topics: readonly TopicRecords[], headroom = 0): Promise<Buffer> {
    const H = this.o.headerNames.length;
    let size = headroom + 2 + 2 + 4 + 4;
    const topicNames: Buffer[] = [];
    // Per partition: [records bytes, first timestamp, max timestamp]; per record: body size, key and header byte lengths.
    const partitionInfo: Array<{ recordsSize: number; first: number; max: number; lens: Int32Array; compressed?: Buffer }> = [];
    for (const t of topics) {
      const name = Buffer.from(t.topic, 'utf8');
      topicNames.push(name);
      size += 2 + name.length + 4;
      for (const p of t.partitions) {
        const recs = p.records;
        let first = Infinity;
        let max = -Infinity;
        for (const r of recs) {
          if (r.timestampMs < first) first = r.timestampMs;
          if (r.timestampMs > max) max = r.timestampMs;
        }
        const lens = new Int32Array(recs.length * (H + 2));
        let recordsSize = 0;
        for (let i = 0; i < recs.length; i++) {
          const body = this.bodySize(recs[i]!, i, recs[i]!.timestampMs - first, lens, i * (H + 2));
          lens[i * (H + 2)] = body;
          recordsSize += uvarintSize(body * 2) + body;
        }
        const info: (typeof partitionInfo)[number] = { recordsSize, first, max, lens };
        if (this.compress) {
          const plain = Buffer.allocUnsafe(recordsSize);
          this.writeRecords(plain, 0, recs, first, lens);
          info.compressed = await this.compress(plain);
        }
        partitionInfo.push(info);
        size += 4 + 4 + BATCH_OVERHEAD + (info.compressed ? info.compressed.length : recordsSize);
      }
    }

    const buf = this.frames.take(size);
    let pos = buf.writeInt16BE(-1, headroom);
    pos = buf.writeInt16BE(this.o.acks, pos);
    pos = buf.writeInt32BE(this.o.timeoutMs, pos);
    pos = buf.writeInt32BE(topics.length, pos);
    let pi = 0;
    for (let ti = 0; ti < topics.length; ti++) {
      const t = topics[ti]!;
      const name = topicNames[ti]!;
      pos = buf.writeInt16BE(name.length, pos);
      pos += name.copy(buf, pos);
      pos = buf.writeInt32BE(t.partitions.length, pos);
      for (const p of t.partitions) {
        const info = partitionInfo[pi++]!;
        const payload = info.compressed ? info.compressed.length : info.recordsSize;
        const batchLength = BATCH_OVERHEAD - 12 + payload;
        pos = buf.writeInt32BE(p.partition, pos);
        pos = buf.writeInt32BE(12 + batchLength, pos);
        const batchStart = pos;
        pos = buf.writeInt32BE(0, pos); // base offset (int64) 0
        pos = buf.writeInt32BE(0, pos);
        pos = buf.writeInt32BE(batchLength, pos);
        pos = buf.writeInt32BE(0, pos); // partition leader epoch
        pos = buf.writeInt8(2, pos); // magic
        const crcAt = pos;
        pos += 4;
        pos = buf.writeInt16BE(this.attributes, pos);
        pos = buf.writeInt32BE(p.records.length - 1, pos);
        pos = buf.writeBigInt64BE(BigInt(info.first), pos);
        pos = buf.writeBigInt64BE(BigInt(info.max), pos);
        pos = buf.writeInt32BE(-1, pos); // producer id (int64) -1
        pos = buf.writeInt32BE(-1, pos);
        pos = buf.writeInt16BE(0, pos); // producer epoch
        pos = buf.writeInt32BE(0, pos); // base sequence
        pos = buf.writeInt32BE(p.records.length, pos);
        if (info.compressed) pos += info.compressed.copy(buf, pos);
        else pos = this.writeRecords(buf, pos, p.records, info.first, info.lens);
        buf.writeUInt32BE(crc32c(buf, batchStart + ATTRIBUTES_AT, pos), crcAt);
      }
    }
    if (pos !== size) throw new Error(`produce request encoding: wrote ${pos} bytes, expected ${size}`);
    return buf;
  }

  /**
   * Hands back a buffer from `encode` for reuse by later requests, once nothing reads it any more
   * (the broker answered the request). Optional: a buffer never handed back is garbage collected.
   */
  release(frame: Buffer): void {
    this.frames.give(frame);
  }

  /** Size of a record's body (after its length); fills `lens` (key, header value byte lengths) when given. */
  private bodySize(r: EncodableRecord, offsetDelta: number, timestampDelta: number, lens: Int32Array | null, at: number): number {
    const keyLen = utf8Length(r.key);
    const valueLen = r.value === null ? 0 : r.value.byteLength;
    const valueSize = r.value === null ? 1 : uvarintSize(valueLen * 2) + valueLen;
    let size = 1 + uvarintSize(timestampDelta * 2) + uvarintSize(offsetDelta * 2) + uvarintSize(keyLen * 2) + keyLen + valueSize;
    const hv = r.headerValues;
    size += uvarintSize(hv.length * 2) + this.namesSize;
    const ascii = this.ascii;
    for (let h = 0; h < hv.length; h++) {
      const n = ascii[h] ? hv[h]!.length : utf8Length(hv[h]!);
      size += uvarintSize(n * 2) + n;
      if (lens) lens[at + 2 + h] = n;
    }
    if (lens) lens[at + 1] = keyLen;
    return size;
  }

  private writeRecords(buf: Buffer, pos: number, recs: readonly EncodableRecord[], first: number, lens: Int32Array): number {
    const stride = this.o.headerNames.length + 2;
    const names = this.names;
    for (let i = 0; i < recs.length; i++) {
      const r = recs[i]!;
      const at = i * stride;
      pos = writeUvarint(buf, pos, lens[at]! * 2);
      buf[pos++] = 0; // attributes
      pos = writeUvarNumber(buf, pos, (r.timestampMs - first) * 2);
      pos = writeUvarint(buf, pos, i * 2);
      const keyLen = lens[at + 1]!;
      pos = writeUvarint(buf, pos, keyLen * 2);
      pos = writeText(buf, pos, r.key, keyLen);
      if (r.value === null) {
        buf[pos++] = 1; // zigzag(-1): a null value
      } else {
        pos = writeUvarint(buf, pos, r.value.byteLength * 2);
        buf.set(r.value, pos);
        pos += r.value.byteLength;
      }
      const hv = r.headerValues;
      pos = writeUvarint(buf, pos, hv.length * 2);
      for (let h = 0; h < hv.length; h++) {
        const name = names[h]!;
        for (let k = 0; k < name.length; k++) buf[pos++] = name[k]!;
        const n = lens[at + 2 + h]!;
        pos = writeUvarint(buf, pos, n * 2);
        pos = writeText(buf, pos, hv[h]!, n);
      }
    }
    return pos;
  }
}

/** UTF-8 byte length of `s` (lone surrogates count 3 bytes, as Node writes them U+FFFD). */
export function utf8Length(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) n += 1;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 2; // a surrogate pair: 4 bytes for 2 UTF-16 units
      i++;
    } else n += 2;
  }
  return n;
}

/** Writes `s` (whose UTF-8 length is `byteLength`) at `pos`; short ASCII is copied char by char (cheaper than a native call). */
function writeText(buf: Buffer, pos: number, s: string, byteLength: number): number {
  if (byteLength !== s.length) return pos + buf.write(s, pos, byteLength, 'utf8');
  if (byteLength > 24) return pos + buf.write(s, pos, byteLength, 'latin1'); // ASCII: latin1 bytes = UTF-8 bytes
  for (let i = 0; i < byteLength; i++) buf[pos + i] = s.charCodeAt(i);
  return pos + byteLength;
}

/** Bytes of an unsigned LEB128 varint of `v` (a non-negative integer, exact up to 2^53). */
export function uvarintSize(v: number): number {
  if (v < 0x80) return 1;
  if (v < 0x4000) return 2;
  if (v < 0x200000) return 3;
  if (v < 0x10000000) return 4;
  let n = 4;
  for (v = Math.floor(v / 0x10000000); v > 0; v = Math.floor(v / 0x80)) n++;
  return n;
}

/** Writes `v` (0 ≤ v < 2^31) as an unsigned varint. */
function writeUvarint(buf: Buffer, pos: number, v: number): number {
  if (v >= 0x80000000) return writeUvarNumber(buf, pos, v);
  while (v >= 0x80) {
    buf[pos++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  buf[pos++] = v;
  return pos;
}

/** Writes `v` (a non-negative integer up to 2^53) as an unsigned varint. */
function writeUvarNumber(buf: Buffer, pos: number, v: number): number {
  while (v >= 0x80) {
    buf[pos++] = (v % 0x80) | 0x80;
    v = Math.floor(v / 0x80);
  }
  buf[pos++] = v;
  return pos;
}
