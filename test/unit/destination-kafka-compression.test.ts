/**
 * Record batch codecs of the kafka destination (compression.ts): a compressed batch carries the
 * codec's id in its attributes and, decompressed with an independent decoder, exactly the records
 * the uncompressed batch carries. (Read back by a real consumer: test/integration/destination-kafka.)
 */
import zlib from 'node:zlib';
import { COMPRESSION_ATTRIBUTE, zstdBackend, type RecordCompression } from '../../src/destinations/kafka/compression';
import { crc32c } from '../../src/destinations/kafka/crc32c';
import { ProduceRequestEncoder, type EncodableRecord } from '../../src/destinations/kafka/recordBatch';

const HEADERS = ['op', 'idempotency_key'];
const TOPIC = 'orders';
/** Request header (acks, timeout, topic count), topic name and partition count, partition id and batch size. */
const BATCH_AT = 2 + 2 + 4 + 4 + 2 + TOPIC.length + 4 + 4 + 4;
const RECORDS_AT = 61;

function records(n: number): EncodableRecord[] {
  return Array.from({ length: n }, (_, i) => ({
    key: `{"id":${i}}`,
    value: i % 10 === 9 ? null : Buffer.from(JSON.stringify({ id: i, note: 'abc'.repeat(i % 50), at: '2024-05-06T07:08:09Z' })),
    headerValues: [i % 10 === 9 ? 'tombstone' : 'insert', i.toString(16).padStart(64, '0')],
    timestampMs: 1_714_979_289_000 + i,
  }));
}

async function batchOf(compression: RecordCompression, recs: EncodableRecord[]): Promise<{ attributes: number; payload: Buffer }> {
  const body = await new ProduceRequestEncoder({ acks: -1, timeoutMs: 1000, compression, headerNames: HEADERS }).encode([
    { topic: TOPIC, partitions: [{ partition: 0, records: recs }] },
  ]);
  const batch = body.subarray(BATCH_AT);
  expect(batch.readUInt32BE(17)).toBe(crc32c(batch, 21, batch.length));
  return { attributes: batch.readInt16BE(21), payload: batch.subarray(RECORDS_AT) };
}

/** Xerial framing: header, then [int32 length · raw snappy block]. */
function unsnappy(buf: Buffer): Buffer {
  const snappy = require('snappy') as { uncompressSync(b: Buffer): Buffer };
  expect(buf.subarray(0, 8)).toEqual(Buffer.from('\x82SNAPPY\0', 'latin1'));
  const parts: Buffer[] = [];
  for (let at = 16; at < buf.length;) {
    const n = buf.readInt32BE(at);
    parts.push(snappy.uncompressSync(buf.subarray(at + 4, at + 4 + n)));
    at += 4 + n;
  }
  return Buffer.concat(parts);
}

async function unzstd(buf: Buffer): Promise<Buffer> {
  const z = zlib as unknown as { zstdDecompressSync?: (b: Buffer) => Buffer };
  if (z.zstdDecompressSync) return z.zstdDecompressSync(buf);
  const wasm = require('@bokuweb/zstd-wasm') as { init(): Promise<void>; decompress(b: Uint8Array): Uint8Array };
  await wasm.init();
  return Buffer.from(wasm.decompress(buf));
}

const DECODERS: Record<Exclude<RecordCompression, 'none'>, (b: Buffer) => Buffer | Promise<Buffer>> = {
  gzip: (b) => zlib.gunzipSync(b),
  snappy: unsnappy,
  lz4: (b) => (require('lz4-napi') as { decompressFrameSync(b: Buffer): Buffer }).decompressFrameSync(b),
  zstd: unzstd,
};

test.each(['gzip', 'snappy', 'lz4', 'zstd'] as const)('%s: attributes name the codec and the payload holds the records', async (codec) => {
  // 2,000 records: ~150 KB of records, so snappy writes several xerial blocks.
  const recs = records(2000);
  const plain = await batchOf('none', recs);
  expect(plain.attributes).toBe(0);
  const packed = await batchOf(codec, recs);
  expect(packed.attributes).toBe(COMPRESSION_ATTRIBUTE[codec]);
  expect(packed.payload.length).toBeLessThan(plain.payload.length / 2);
  expect((await DECODERS[codec](packed.payload)).equals(plain.payload)).toBe(true);
});

test('zstd uses zlib where this Node has it, WebAssembly otherwise', () => {
  const hasZlibZstd = typeof (zlib as unknown as { zstdCompress?: unknown }).zstdCompress === 'function';
  expect(zstdBackend()).toBe(hasZlibZstd ? 'zlib' : 'wasm');
});
