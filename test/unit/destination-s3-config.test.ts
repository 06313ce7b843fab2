import { parseFlow } from '../../src/config/flow';
import { DuctError } from '../../src/core/errors';
import { maskOptions } from '../../src/core/redact';
import '../../src/destinations';
import { parseS3Config } from '../../src/destinations/s3/config';
import { s3Error, s3RetryClass } from '../../src/destinations/s3/errors';
import { objectKeyFor, positionText } from '../../src/destinations/s3/objectKeys';
import { ChangeLog, table } from '../support/changes';
import { testFlow } from '../support/flows';

const P = 'destinations[0].options';
const parse = (o: Record<string, string>) => parseS3Config({ bucket: 'my-bucket', ...o }, P);

describe('s3 options', () => {
  test('defaults: no prefix, standard credential chain, snappy parquet', () => {
    const c = parse({ region: 'eu-west-1' });
    expect(c).toMatchObject({
      bucket: 'my-bucket',
      prefix: '',
      region: 'eu-west-1',
      forcePathStyle: false,
      parquetCompression: 'snappy',
      credentials: undefined,
      endpoint: undefined,
    });
  });

  test('every option is read; the prefix ends with one slash', () => {
    const c = parse({
      prefix: '/cdc/orders',
      endpoint: 'http://127.0.0.1:9000',
      force_path_style: 'true',
      access_key_id: 'AK',
      secret_access_key: 'SK',
      session_token: 'ST',
      format: 'parquet',
      compression: 'zstd',
      request_timeout: '5s',
      max_retries: '1',
    });
    expect(c).toMatchObject({
      prefix: 'cdc/orders/',
      endpoint: 'http://127.0.0.1:9000',
      forcePathStyle: true,
      credentials: { accessKeyId: 'AK', secretAccessKey: 'SK', sessionToken: 'ST' },
      parquetCompression: 'zstd',
      requestTimeoutMs: 5000,
    });
    expect(c.retry.maxAttempts).toBe(2);
  });

  test.each([
    [{ bucket: '' }, `${P}.bucket: is required`],
    [{ bucket: 'My_Bucket' }, `${P}.bucket: "My_Bucket" is not a valid bucket name`],
    [{ endpoint: 'localhost:9000' }, `${P}.endpoint: is not an http(s) URL`],
    [{ access_key_id: 'AK' }, `${P}.secret_access_key: must be set together with the other key`],
    [{ secret_access_key: 'SK' }, `${P}.access_key_id: must be set together with the other key`],
    [{ compression: 'lzma' }, `${P}.compression: unknown parquet compression "lzma"`],
    [{ format: 'csv' }, `${P}.format: unknown wire format "csv"`],
    [{ force_path_style: 'maybe' }, `${P}.force_path_style: "maybe" is not a boolean`],
    [{ max_retries: '-2' }, `${P}.max_retries: -2 is below the minimum`],
    [{ path_style: 'true' }, `${P}.path_style: is not a known option`],
  ])('rejects %j', (options, message) => {
    let err: unknown;
    try {
      parse(options);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DuctError);
    expect((err as DuctError).message).toContain(message);
    expect((err as DuctError).message).not.toContain('SK');
  });

  test('a flow with a bad s3 option is rejected at validation; credentials are masked for display', () => {
    const flow = testFlow({
      id: 'f',
      sourceDsn: 'postgres://u@h/db',
      slot: 's',
      publication: 'p',
      tables: ['public.t'],
      destinations: [{ name: 'lake', type: 's3', options: { bucket: 'b-1', compression: 'rar' } }],
    });
    expect(() => parseFlow(flow)).toThrow('destinations[0].options.compression: unknown parquet compression "rar"');
    expect(maskOptions({ bucket: 'b', access_key_id: 'AKIA', secret_access_key: 'SECRET', session_token: 'TOKEN' })).toEqual({
      bucket: 'b',
      access_key_id: '****',
      secret_access_key: '****',
      session_token: '****',
    });
  });
});

describe('object keys', () => {
  const t = table('public.orders', { id: 'int8' }, { primaryKey: ['id'] });

  test('sort by stream position and are a function of the first and last change', () => {
    const log = new ChangeLog('f', 0xffff_fff0n);
    const [a, b] = log.tx((x) => x.insert(t, { id: 1n }).insert(t, { id: 2n }));
    const [c] = log.tx((x) => x.insert(t, { id: 3n }));
    const k1 = objectKeyFor('cdc/', t, a!, b!, 'parquet');
    const k2 = objectKeyFor('cdc/', t, c!, c!, 'parquet');
    expect(k1).toBe(`cdc/public.orders/${positionText(a!)}-${positionText(b!)}.parquet`);
    expect(k1 < k2).toBe(true);
    expect(positionText({ commitLsn: 0x1_0000_0000n, seq: 17 })).toBe('0000000100000000.00000011');
    expect(objectKeyFor('', t, a!, b!, 'parquet')).toBe(k1.slice(4));
  });

  test('names cannot add folders or collide', () => {
    const log = new ChangeLog();
    const weird = table('a.b', { id: 'int8' });
    const [x] = log.tx((tx) => tx.insert(weird, { id: 1n }));
    const key1 = objectKeyFor('', { schema: 'a.b', name: 'c' }, x!, x!, 'jsonl');
    const key2 = objectKeyFor('', { schema: 'a', name: 'b.c' }, x!, x!, 'jsonl');
    const key3 = objectKeyFor('', { schema: 's', name: 'x/../y z' }, x!, x!, 'jsonl');
    expect(key1).not.toBe(key2);
    expect(key3.split('/')).toHaveLength(2);
    expect(key3.startsWith('s.x%2F%2E%2E%2Fy%20z/')).toBe(true);
  });
});

describe('s3 errors', () => {
  const ctx = { name: 'lake', bucket: 'b', fields: { bucket: `${P}.bucket`, endpoint: `${P}.endpoint`, credentials: `${P}.access_key_id` } };
  test('throttling, 5xx and network errors back off; missing bucket and refused credentials are permanent', () => {
    expect(s3RetryClass({ name: 'SlowDown', $metadata: { httpStatusCode: 503 } })).toBe('backoff');
    expect(s3RetryClass({ name: 'InternalError', $metadata: { httpStatusCode: 500 } })).toBe('backoff');
    expect(s3RetryClass({ name: 'TimeoutError', code: 'ETIMEDOUT' })).toBe('backoff');
    expect(s3RetryClass({ name: 'NoSuchBucket', $metadata: { httpStatusCode: 404 } })).toBe('never');
    expect(s3RetryClass({ name: 'InvalidAccessKeyId', $metadata: { httpStatusCode: 403 } })).toBe('never');
    const e = s3Error({ name: 'NotFound', $metadata: { httpStatusCode: 404 }, message: 'UnknownError' }, `cannot open the bucket (${P}.bucket)`, ctx);
    expect(e.message).toBe(`s3 destination "lake": cannot open the bucket (${P}.bucket) (bucket b): NotFound: HTTP 404: UnknownError`);
    expect(e.hint).toBe(`create bucket "b" or fix ${P}.bucket`);
  });
});
