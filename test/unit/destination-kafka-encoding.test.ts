/**
 * The kafka destination's own produce encoding (record batches, CRC-32C, the default partitioner's
 * murmur2) against kafkajs 2.2.4's, which it replaces on the hot path: the bytes must be identical,
 * so brokers and consumers see exactly what they saw when kafkajs encoded the records.
 */
import { crc32c } from '../../src/destinations/kafka/crc32c';
import { murmur2, murmur2OfText } from '../../src/destinations/kafka/murmur2';
import { ProduceRequestEncoder, utf8Length, type EncodableRecord, type TopicRecords } from '../../src/destinations/kafka/recordBatch';

/* kafkajs internals, as oracles. */
const kafkajsProduceV3 = require('kafkajs/src/protocol/requests/produce/v3/request') as (o: object) => { encode(): Promise<{ buffer: Buffer }> };
const kafkajsCrc32c = require('kafkajs/src/protocol/recordBatch/crc32C') as (b: Buffer) => number;
const kafkajsMurmur2 = require('kafkajs/src/producer/partitioners/default/murmur2') as (k: Buffer | string) => number;
const { CompressionTypes } = require('kafkajs') as { CompressionTypes: { None: number; GZIP: number } };

const HEADERS = ['op', 'table', 'lsn', 'idempotency_key', 'content-type'];

/** Deterministic pseudo-random numbers. */
function rng(seed: number): () => number {
  let s = seed;
  return () => ((s = (Math.imul(s, 1103515245) + 12345) | 0) >>> 0) / 2 ** 32;
}

function recordsOf(n: number, seed: number): EncodableRecord[] {
  const r = rng(seed);
  const texts = ['plain', 'ünïcödé', '表', 'emoji 🎉 pair', 'x'.repeat(200), ''];
  return Array.from({ length: n }, (_, i) => ({
    key: i % 7 === 0 ? texts[i % texts.length]! : `{"id":"${Math.floor(r() * 1e12)}"}`,
    value: Buffer.from(`{"n":${i},"t":"${texts[i % texts.length]}","pad":"${'p'.repeat(Math.floor(r() * 300))}"}`),
    headerValues: ['insert', i % 3 === 0 ? 'public.tåble' : 'public.items', `0/${(i * 64).toString(16).toUpperCase()}`, 'f'.repeat(64), 'application/json'],
    // 13-digit timestamps (kafkajs sorts them as text), not in order, up to ~3 weeks apart.
    timestampMs: 1_714_979_289_000 + Math.floor(r() * 2_000_000_000),
  }));
}

async function kafkajsBody(topics: TopicRecords[], compression: number, acks: number): Promise<Buffer> {
  const topicData = topics.map((t) => ({
    topic: t.topic,
    partitions: t.partitions.map((p) => ({
      partition: p.partition,
      firstSequence: 0,
      messages: p.records.map((r) => ({
        key: r.key,
        value: r.value === null ? null : Buffer.from(r.value),
        timestamp: r.timestampMs,
        headers: Object.fromEntries(HEADERS.map((h, i) => [h, r.headerValues[i]!])),
      })),
    })),
  }));
  return (await kafkajsProduceV3({ acks, timeout: 30_000, compression, topicData }).encode()).buffer;
}

describe('produce request encoding', () => {
  test.each([
    ['none', CompressionTypes.None, -1],
    ['gzip', CompressionTypes.GZIP, 1],
  ] as const)('matches kafkajs byte for byte (%s)', async (compression, kafkajsCompression, acks) => {
    // Every 10th record a tombstone (null value), as after deletes with tombstones=true.
    const recs = recordsOf(300, 7).map((rec, i) => (i % 10 === 9 ? { ...rec, value: null } : rec));
    const topics: TopicRecords[] = [
      {
        topic: 'cdc.public.items',
        partitions: [
          { partition: 0, records: recs.slice(0, 120) },
          { partition: 3, records: recs.slice(120, 121) },
        ],
      },
      { topic: 'tøpic', partitions: [{ partition: 1, records: recs.slice(121) }] },
    ];
    const theirs = await kafkajsBody(topics, kafkajsCompression, acks);
    const ours = await new ProduceRequestEncoder({ acks, timeoutMs: 30_000, compression, headerNames: HEADERS }).encode(topics);
    expect(ours.equals(theirs)).toBe(true);
    // Headers declared ASCII (all but table here) skip the length scan and give the same bytes.
    const asciiHeaders = HEADERS.map((h) => h !== 'table');
    const hinted = await new ProduceRequestEncoder({ acks, timeoutMs: 30_000, compression, headerNames: HEADERS, asciiHeaders }).encode(topics);
    expect(hinted.equals(theirs)).toBe(true);
  });

  test('recordSize is the encoded size of a record', async () => {
    const enc = new ProduceRequestEncoder({ acks: -1, timeoutMs: 1000, compression: 'none', headerNames: HEADERS });
    const [a, b] = recordsOf(2, 3);
    const one = await enc.encode([{ topic: 't', partitions: [{ partition: 0, records: [a!] }] }]);
    const two = await enc.encode([{ topic: 't', partitions: [{ partition: 0, records: [a!, { ...b!, timestampMs: a!.timestampMs }] }] }]);
    expect(two.length - one.length).toBe(enc.recordSize(b!, 1, 0));
  });

  test('utf8Length agrees with Buffer.byteLength, lone surrogates included', () => {
    for (const s of ['', 'abc', 'ü', '表', '🎉', 'a\ud800b', '\udc00', 'x🎉y表z']) expect(utf8Length(s)).toBe(Buffer.byteLength(s));
  });
});

describe('checksums and the partitioner hash', () => {
  test('crc32c and murmur2 equal kafkajs on random inputs of every length', () => {
    const r = rng(11);
    for (let n = 0; n < 600; n++) {
      const b = Buffer.alloc(n % 150);
      for (let i = 0; i < b.length; i++) b[i] = Math.floor(r() * 256);
      expect(crc32c(b)).toBe(kafkajsCrc32c(b));
      expect(murmur2(b)).toBe(kafkajsMurmur2(b));
    }
  });

  test('murmur2OfText hashes the UTF-8 bytes of a key', () => {
    for (const s of ['', '{"id":"1"}', '{"id":"123456789"}', 'ünï', '表🎉', 'a\ud800']) expect(murmur2OfText(s)).toBe(kafkajsMurmur2(s));
  });
});
