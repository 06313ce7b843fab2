import { inflateRawSync } from 'node:zlib';
import * as avro from 'avsc';
import { badPayload } from './envelope';

/**
 * The Avro object container file format (Avro spec, "Object Container Files"), written and read
 * synchronously: `Obj\x01`, a metadata map (`avro.schema`, `avro.codec`), a 16-byte sync marker, then
 * blocks of (record count, byte size, records, sync marker). avsc's own container encoder is a
 * stream with a random sync marker; this writer takes the marker from the caller (derived from the
 * schema) so the same records always give the same bytes. Readers: any Avro library (avsc's
 * `BlockDecoder`, fastavro, Java `DataFileReader`). Codec `null` on write; `null` and `deflate` on read.
 */

const MAGIC = Buffer.from('Obj\x01', 'latin1');
const HEADER = avro.Type.forSchema({
  type: 'record',
  name: 'org.apache.avro.file.Header',
  fields: [
    { name: 'magic', type: { type: 'fixed', name: 'Magic', size: 4 } },
    { name: 'meta', type: { type: 'map', values: 'bytes' } },
    { name: 'sync', type: { type: 'fixed', name: 'Sync', size: 16 } },
  ],
});
const LONG = avro.Type.forSchema('long');

interface Decoded<T> {
  value: T | undefined;
  offset: number;
}

interface ContainerHeader {
  magic: Buffer;
  meta: Record<string, Buffer | undefined>;
  sync: Buffer;
}

/** Records per block: keeps a reader's memory per block bounded. */
const BLOCK_RECORDS = 4096;

export function writeContainer(schemaJson: string, sync: Buffer, records: readonly Buffer[]): Buffer {
  const parts: Buffer[] = [
    HEADER.toBuffer({ magic: MAGIC, meta: { 'avro.schema': Buffer.from(schemaJson, 'utf8'), 'avro.codec': Buffer.from('null') }, sync }),
  ];
  for (let i = 0; i < records.length; i += BLOCK_RECORDS) {
    const block = records.slice(i, i + BLOCK_RECORDS);
    const data = Buffer.concat(block);
    parts.push(LONG.toBuffer(block.length), LONG.toBuffer(data.length), data, sync);
  }
  return Buffer.concat(parts);
}

export interface ContainerContents {
  schemaJson: string;
  /** Each block's decompressed record bytes with its record count. */
  blocks: { count: number; data: Buffer }[];
}

export function readContainer(bytes: Uint8Array, format = 'avro'): ContainerContents {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < 4 || !buf.subarray(0, 4).equals(MAGIC)) throw badPayload(format, 'not an Avro object container file (bad magic)');
  const head: Decoded<ContainerHeader> = HEADER.decode(buf, 0);
  if (!head.value) throw badPayload(format, 'truncated container header');
  const codec = head.value.meta['avro.codec']?.toString() ?? 'null';
  if (codec !== 'null' && codec !== 'deflate') throw badPayload(format, `unsupported container codec "${codec}"`);
  const schemaBytes = head.value.meta['avro.schema'];
  if (!schemaBytes) throw badPayload(format, 'container header has no avro.schema');
  const sync = head.value.sync;
  const blocks: ContainerContents['blocks'] = [];
  let pos = head.offset;
  while (pos < buf.length) {
    const count: Decoded<number> = LONG.decode(buf, pos);
    const size: Decoded<number> = LONG.decode(buf, count.offset);
    if (count.value === undefined || size.value === undefined) throw badPayload(format, 'truncated block header');
    const end = size.offset + size.value;
    if (end + 16 > buf.length || !buf.subarray(end, end + 16).equals(sync)) throw badPayload(format, 'block does not end with the sync marker');
    const raw = buf.subarray(size.offset, end);
    blocks.push({ count: count.value, data: codec === 'deflate' ? inflateRawSync(raw) : raw });
    pos = end + 16;
  }
  return { schemaJson: schemaBytes.toString('utf8'), blocks };
}
