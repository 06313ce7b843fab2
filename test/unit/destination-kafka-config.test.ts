import { parseFlow } from '../../src/config/flow';
import { DuctError } from '../../src/core/errors';
import { maskOptions } from '../../src/core/redact';
import '../../src/destinations';
import { getDestinationKind } from '../../src/destinations/registry';
import { KAFKA_DEFAULTS, parseKafkaConfig } from '../../src/destinations/kafka/config';
import { kafkaError, kafkaRetryClass } from '../../src/destinations/kafka/errors';
import { chunkRecords, recordsOf } from '../../src/destinations/kafka/messages';
import { parseTopicTemplate, topicFor } from '../../src/destinations/kafka/topics';
import { toEncodedBatch } from '../../src/pipeline/encodedBatch';
import { getCodec } from '../../src/wire/registry';
import { ChangeLog, table } from '../support/changes';
import { testFlow } from '../support/flows';

const P = 'destinations[0].options';
const parse = (o: Record<string, string>, kind = 'kafka') => parseKafkaConfig(kind, { brokers: 'localhost:9092', ...o }, P);

describe('kafka options', () => {
  test('defaults, and the same options for bufstream', () => {
    const c = parse({});
    expect(c).toMatchObject({
      kind: 'kafka',
      brokers: ['localhost:9092'],
      compression: 'none',
      acks: -1,
      clientId: 'ductstream',
      tls: false,
      maxRequestBytes: KAFKA_DEFAULTS.maxRequestBytes,
    });
    expect(c.topic.text).toBe('{schema}.{table}');
    expect(
      getDestinationKind('bufstream', 't').parseConfig({ brokers: 'b:9092', topic: 'cdc', acks: '1', compression: 'gzip', format: 'proto' }, P),
    ).toMatchObject({ kind: 'bufstream', acks: 1, compression: 'gzip' });
    expect(getDestinationKind('kafka', 't').usesWireFormat).toBe(true);
  });

  test.each(['snappy', 'lz4', 'zstd'])('compression %s is accepted', (codec) => {
    expect(parse({ compression: codec.toUpperCase() }).compression).toBe(codec);
  });

  test('every option is read', () => {
    const c = parse({
      brokers: 'a:1, [::1]:9093',
      topic: 'cdc.{table}',
      compression: 'GZIP',
      acks: '0',
      client_id: 'me',
      tls: 'true',
      sasl_mechanism: 'scram-sha-512',
      sasl_username: 'u',
      sasl_password: 'p',
      connect_timeout: '2s',
      request_timeout: '5s',
      max_request_bytes: '65536',
      max_retries: '2',
    });
    expect(c).toMatchObject({
      brokers: ['a:1', '[::1]:9093'],
      compression: 'gzip',
      acks: 0,
      clientId: 'me',
      tls: true,
      sasl: { mechanism: 'scram-sha-512', username: 'u', password: 'p' },
      connectTimeoutMs: 2000,
      requestTimeoutMs: 5000,
      maxRequestBytes: 65536,
    });
    expect(c.retry.maxAttempts).toBe(3);
  });

  test.each([
    [{ brokers: '' }, `${P}.brokers: is required`],
    [{ brokers: 'localhost' }, `${P}.brokers: "localhost" is not host:port`],
    [{ brokers: 'h:99999' }, `${P}.brokers: "h:99999" is not host:port`],
    [{ compression: 'brotli' }, `${P}.compression: "brotli" is not allowed`],
    [{ acks: '2' }, `${P}.acks: "2" is not allowed`],
    [{ format: 'csv' }, `${P}.format: unknown wire format "csv"`],
    [{ topic: 'cdc.{db}.{table}' }, `${P}.topic: unknown placeholder {db}`],
    [{ topic: 'cdc/{table}' }, `${P}.topic: "cdc/{table}" has characters Kafka does not allow`],
    [{ sasl_mechanism: 'plain' }, `${P}.sasl_username: is required`],
    [{ sasl_username: 'u', sasl_password: 'p' }, `${P}.sasl_mechanism: is required`],
    [{ max_retries: '-1' }, `${P}.max_retries: -1 is below the minimum`],
    [{ partitioner: 'x' }, `${P}.partitioner: is not a known option`],
  ])('rejects %j', (options, message) => {
    let err: unknown;
    try {
      parse(options);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DuctError);
    expect((err as DuctError).message).toContain(message);
  });

  test('a flow with an unknown compression is rejected at validation', () => {
    const flow = testFlow({
      id: 'f',
      sourceDsn: 'postgres://u@h/db',
      slot: 's',
      publication: 'p',
      tables: ['public.t'],
      destinations: [{ name: 'k', type: 'bufstream', options: { brokers: 'b:9092', compression: 'lzma' } }],
    });
    expect(() => parseFlow(flow)).toThrow('destinations[0].options.compression: "lzma" is not allowed');
  });

  test('the SASL password is masked for display', () => {
    expect(maskOptions({ brokers: 'b:9092', sasl_username: 'u', sasl_password: 'pw' })).toEqual({
      brokers: 'b:9092',
      sasl_username: 'u',
      sasl_password: '****',
    });
  });
});

describe('topics', () => {
  test('templates substitute schema and table, replacing characters Kafka does not allow', () => {
    const t = parseTopicTemplate('cdc.{schema}.{table}', 'f');
    expect(topicFor(t, { schema: 'public', name: 'orders' })).toBe('cdc.public.orders');
    expect(topicFor(t, { schema: 'My Schema', name: 'ördérs' })).toBe('cdc.My_Schema._rd_rs');
    expect(topicFor(parseTopicTemplate('fixed', 'f'), { schema: 'a', name: 'b' })).toBe('fixed');
    expect(() => topicFor(parseTopicTemplate('{table}', 'f'), { schema: 'a', name: 'x'.repeat(300) })).toThrow('is not a valid Kafka topic name');
  });
});

describe('records', () => {
  const users = table('public.users', { id: 'int8', name: 'text' }, { primaryKey: ['id'] });

  test('one record per change: key = primary key, value = the wire format, headers name op, table, positions, key and format', () => {
    const log = new ChangeLog();
    log.tx((t) => t.insert(users, { id: 1n, name: 'a' }).update(users, { id: 1n, name: 'b' }).truncate(users));
    const batch = toEncodedBatch(log.batch(), (f) => getCodec(f));
    const records = recordsOf(batch, { codec: getCodec('avro'), topic: parseTopicTemplate('cdc.{table}', 'f'), tombstones: true });
    expect(records.map((r) => [r.topic, r.key, r.broadcast, r.headers.op, r.headers.seq])).toEqual([
      ['cdc.users', '{"id":"1"}', false, 'insert', '0'],
      ['cdc.users', '{"id":"1"}', false, 'update', '1'],
      ['cdc.users', '{}', true, 'truncate', '2'],
    ]);
    expect(records[0]!.headers).toMatchObject({ table: 'public.users', 'content-type': getCodec('avro').contentType });
    expect(records[0]!.headers.idempotency_key).not.toBe(records[1]!.headers.idempotency_key);
    expect(getCodec('avro').decodeMessage(records[1]!.value!, users).after).toEqual({ id: 1n, name: 'b' });
    expect(records[0]!.timestamp).toBe(String(batch.changes[0]!.commitTimeMicros / 1000n));
  });

  test('a key change: delete and tombstone of the old key, then the update under the new key; a delete is followed by its tombstone', () => {
    const log = new ChangeLog();
    log.tx((t) =>
      t
        .insert(users, { id: 1n, name: 'a' })
        .update(users, { id: 2n, name: 'a' }, { before: { id: 1n } })
        .delete(users, { id: 2n }),
    );
    const batch = toEncodedBatch(log.batch(), (f) => getCodec(f));
    const records = recordsOf(batch, { codec: getCodec('json'), topic: parseTopicTemplate('cdc.{table}', 'f'), tombstones: true });
    expect(records.map((r) => [r.key, r.headers.op, r.value === null ? null : getCodec('json').decodeMessage(r.value, users).op])).toEqual([
      ['{"id":"1"}', 'insert', 'insert'],
      ['{"id":"1"}', 'delete', 'delete'],
      ['{"id":"1"}', 'tombstone', null],
      ['{"id":"2"}', 'update', 'update'],
      ['{"id":"2"}', 'delete', 'delete'],
      ['{"id":"2"}', 'tombstone', null],
    ]);
    expect(new Set(records.map((r) => r.headers.idempotency_key)).size).toBe(6);
    const off = recordsOf(batch, { codec: getCodec('json'), topic: parseTopicTemplate('cdc.{table}', 'f'), tombstones: false });
    expect(off.map((r) => r.headers.op)).toEqual(['insert', 'delete', 'update', 'delete']);
  });

  test('requests are cut by size, a record larger than the limit alone', () => {
    const r = (size: number) => ({ topic: 't', key: 'k', value: Buffer.alloc(0), headers: {}, timestamp: '0', broadcast: false, size });
    expect(chunkRecords([r(400), r(400), r(400), r(5000), r(10)], 1000).map((c) => c.map((x) => x.size))).toEqual([[400, 400], [400], [5000], [10]]);
  });
});

describe('kafka errors', () => {
  const ctx = { kind: 'kafka', name: 'k', fields: { brokers: `${P}.brokers`, topic: `${P}.topic` } };
  test('connection problems and retriable broker errors back off; refusals are permanent', () => {
    expect(kafkaRetryClass({ name: 'KafkaJSConnectionError', retriable: true })).toBe('backoff');
    expect(kafkaRetryClass({ name: 'KafkaJSNumberOfRetriesExceeded', originalError: { name: 'KafkaJSConnectionError' } })).toBe('backoff');
    expect(kafkaRetryClass({ name: 'KafkaJSNumberOfRetriesExceeded', retriable: false, cause: { name: 'KafkaJSConnectionError' } })).toBe('backoff');
    expect(kafkaRetryClass({ name: 'KafkaJSNonRetriableError', cause: { name: 'KafkaJSProtocolError', type: 'MESSAGE_TOO_LARGE' } })).toBe('never');
    expect(kafkaRetryClass({ name: 'KafkaJSProtocolError', type: 'NOT_LEADER_FOR_PARTITION', retriable: true })).toBe('backoff');
    expect(kafkaRetryClass({ name: 'KafkaJSProtocolError', type: 'MESSAGE_TOO_LARGE', retriable: false })).toBe('never');
    expect(kafkaRetryClass({ name: 'KafkaJSProtocolError', type: 'TOPIC_AUTHORIZATION_FAILED', retriable: false })).toBe('never');
    expect(kafkaRetryClass({ name: 'KafkaJSSASLAuthenticationError' })).toBe('never');
    const e = kafkaError(
      { name: 'KafkaJSProtocolError', type: 'MESSAGE_TOO_LARGE', message: 'The request included a message larger than the max message size' },
      'producing failed',
      ctx,
    );
    expect(e.message).toBe('kafka destination "k": producing failed: The request included a message larger than the max message size');
    expect(e.hint).toContain('max_request_bytes');
    expect(e.retry).toBe('never');
  });
});
