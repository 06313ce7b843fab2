/**
 * RecordWrite (src/destinations/kafka/producer.ts): after a produce response in which some
 * partitions failed, the write fails and a retry resends only the records of those partitions.
 * The cluster is a stand-in that records which partitions each request carried (decoding the
 * request's partition list) and answers per partition; real encoder, real records.
 */
import type { ProducerCluster } from '../../src/destinations/kafka/cluster';
import { KAFKA_ASCII_HEADERS, KAFKA_HEADERS, OutgoingRecord } from '../../src/destinations/kafka/messages';
import { RecordWrite, type ProducerOptions } from '../../src/destinations/kafka/producer';
import { ProduceRequestEncoder } from '../../src/destinations/kafka/recordBatch';
import { partitionOfKey } from '../../src/destinations/kafka/murmur2';

const HEADER_ROOM = 20;

/** [topic, partition, record count] of each record batch in a produce request body. */
function partitionsOf(frame: Buffer): Array<[string, number, number]> {
  const out: Array<[string, number, number]> = [];
  let pos = HEADER_ROOM + 2 + 2 + 4;
  const topics = frame.readInt32BE(pos);
  pos += 4;
  for (let t = 0; t < topics; t++) {
    const n = frame.readInt16BE(pos);
    const topic = frame.toString('utf8', pos + 2, pos + 2 + n);
    pos += 2 + n;
    const parts = frame.readInt32BE(pos);
    pos += 4;
    for (let p = 0; p < parts; p++) {
      const partition = frame.readInt32BE(pos);
      const size = frame.readInt32BE(pos + 4);
      const count = frame.readInt32BE(pos + 8 + 57);
      out.push([topic, partition, count]);
      pos += 8 + size;
    }
  }
  return out;
}

test('a retry resends only the partitions the broker did not acknowledge', async () => {
  const sent: Array<Array<[string, number, number]>> = [];
  let failPartition: number | null = 1;
  const standIn = {
    headerRoom: HEADER_ROOM,
    recover: async () => undefined,
    ensureTopics: async () => undefined,
    partitions: () => [0, 1, 2, 3].map((partitionId) => ({ partitionId, leader: 7 })),
    produce: async (_leader: number, frame: Buffer) => {
      const parts = partitionsOf(frame);
      sent.push(parts);
      return parts.map(([topic, partition]) => ({ topic, partition, errorCode: partition === failPartition ? 6 : 0 }));
    },
    errorOf: (code: number) => Object.assign(new Error(`code ${code}`), { retriable: true }),
  };
  const o: ProducerOptions = {
    acks: -1,
    timeoutMs: 1000,
    compression: 'none',
    maxRequestBytes: 1_000_000,
    headerNames: KAFKA_HEADERS,
    asciiHeaders: KAFKA_ASCII_HEADERS,
  };
  const records = Array.from({ length: 40 }, (_, i) => {
    const key = `{"id":"${i}"}`;
    return new OutgoingRecord(
      't',
      key,
      Buffer.from(`{"v":${i}}`),
      ['insert', 'public.t', '0/1', '0/2', String(i), 'k'.repeat(64), 'application/json'],
      1_700_000_000_000,
      false,
      200,
    );
  });
  const write = new RecordWrite(standIn as unknown as ProducerCluster, new ProduceRequestEncoder(o), o, records);
  await expect(write.attempt()).rejects.toThrow('code 6');
  failPartition = null;
  await write.attempt();
  const expected = new Map<number, number>();
  for (const r of records) expected.set(partitionOfKey(r.key, 4), (expected.get(partitionOfKey(r.key, 4)) ?? 0) + 1);
  expect(sent[0]!.map(([, p, n]) => [p, n]).sort()).toEqual([...expected].sort());
  expect(sent[1]).toEqual([['t', 1, expected.get(1)]]);
});
