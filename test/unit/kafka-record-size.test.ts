/**
 * OutgoingRecord.size (messages.ts), which cuts writes into requests of at most max_request_bytes,
 * never undercounts a record's encoded bytes, with ASCII headers counted by length and non-ASCII
 * table names, keys and values by their UTF-8 bytes.
 */
import { KAFKA_ASCII_HEADERS, KAFKA_HEADERS, recordsOf } from '../../src/destinations/kafka/messages';
import { ProduceRequestEncoder } from '../../src/destinations/kafka/recordBatch';
import { AVRO_SCHEMA_HEADER } from '../../src/destinations/schemaCarrier';
import { parseTopicTemplate } from '../../src/destinations/kafka/topics';
import { toEncodedBatch } from '../../src/pipeline/encodedBatch';
import { getCodec } from '../../src/wire/registry';
import { ChangeLog, table } from '../support/changes';

test('record sizes cover the encoded records (ASCII and non-ASCII names, keys and values)', () => {
  const tables = [
    table('public.plain', { id: 'int8', v: 'text' }, { primaryKey: ['id'] }),
    table('sälj.ördrar', { nyckel: 'text', v: 'text' }, { primaryKey: ['nyckel'] }),
  ];
  const log = new ChangeLog();
  log.tx((t) => {
    for (let i = 0; i < 50; i++) {
      t.insert(tables[0]!, { id: BigInt(i * 1_000_003), v: 'x'.repeat(i * 7) });
      t.insert(tables[1]!, { nyckel: `ü${i}€😀`.repeat(1 + (i % 5)), v: `värde ${i}` });
    }
  });
  const records = recordsOf(toEncodedBatch(log.batch(), getCodec), {
    codec: getCodec('json'),
    topic: parseTopicTemplate('t.{schema}.{table}', 'topic'),
    tombstones: false,
  });
  const enc = new ProduceRequestEncoder({ acks: -1, timeoutMs: 1000, compression: 'none', headerNames: KAFKA_HEADERS, asciiHeaders: KAFKA_ASCII_HEADERS });
  expect(records).toHaveLength(100);
  for (const r of records) {
    // Deltas as large as a request of a few thousand records spanning an hour can have.
    expect(r.size).toBeGreaterThanOrEqual(enc.recordSize(r, 4000, 3_600_000));
    expect(r.size).toBeLessThanOrEqual(enc.recordSize(r) + 40);
  }
});

test('record sizes cover long header values (a long table name, an Avro schema header)', () => {
  const long = table(`public.${'t'.repeat(60)}`, { id: 'int8', v: 'text' }, { primaryKey: ['id'] });
  const log = new ChangeLog();
  log.tx((t) => {
    for (let i = 0; i < 20; i++) t.insert(long, { id: BigInt(i), v: 'v' });
  });
  const schemaText = JSON.stringify({ type: 'record', name: 'x', fields: Array.from({ length: 400 }, (_, i) => ({ name: `f${i}`, type: 'string' })) });
  const records = recordsOf(toEncodedBatch(log.batch(), getCodec), {
    codec: getCodec('json'),
    topic: parseTopicTemplate('t.{schema}.{table}', 'topic'),
    tombstones: false,
    extraHeader: () => schemaText,
  });
  const names = [...KAFKA_HEADERS, AVRO_SCHEMA_HEADER];
  const enc = new ProduceRequestEncoder({ acks: -1, timeoutMs: 1000, compression: 'none', headerNames: names, asciiHeaders: KAFKA_ASCII_HEADERS });
  for (const r of records) expect(r.size).toBeGreaterThanOrEqual(enc.recordSize(r, 4000, 3_600_000));
});
