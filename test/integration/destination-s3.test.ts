/**
 * The s3 destination against a real S3-compatible server (s3rver), objects read back with the AWS SDK.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuctError } from '../../src/core/errors';
import { silentLogger } from '../../src/core/log';
import '../../src/destinations';
import type { Destination } from '../../src/destinations/destination';
import { getDestinationKind } from '../../src/destinations/registry';
import { positionText } from '../../src/destinations/s3/objectKeys';
import { toEncodedBatch } from '../../src/pipeline/encodedBatch';
import type { WireFormat } from '../../src/wire/codec';
import { getCodec } from '../../src/wire/registry';
import { ChangeLog, table } from '../support/changes';
import { DuckDBInstance } from '@duckdb/node-api';
import { startS3Server, type S3Server } from '../support/peers/s3Server';

let server: S3Server;
let dir: string;
const open: Destination[] = [];
const users = table('public.users', { id: 'int8', name: 'text', amount: 'numeric(12,2)' }, { primaryKey: ['id'] });

beforeAll(async () => {
  server = await startS3Server(['lake']);
  dir = mkdtempSync(join(tmpdir(), 'ductstream-s3-'));
});
afterEach(async () => {
  for (const d of open.splice(0)) await d.close();
});
afterAll(async () => {
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function destination(options: Record<string, string>, format: WireFormat = 'json', path = 'destinations[0].options'): Promise<Destination> {
  const kind = getDestinationKind('s3', 'destinations[0].type');
  const config = kind.parseConfig({ bucket: 'lake', ...server.clientOptions, ...options }, path);
  const d = await kind.create(config, { flowId: 'flow-s3', name: 'lake', wireFormat: format, parallelism: 2, log: silentLogger });
  open.push(d);
  await d.open();
  return d;
}

test('one object per table per batch under an LSN-sorted key; a replayed batch overwrites the same key', async () => {
  const d = await destination({ prefix: 'replay' });
  const log = new ChangeLog();
  const [first] = log.tx((t) => t.insert(users, { id: 1n, name: 'a', amount: '1.00' }).insert(users, { id: 2n, name: 'b', amount: '2.50' }));
  const [, last] = log.tx((t) => t.update(users, { id: 1n, name: 'a2', amount: '1.00' }).delete(users, { id: 2n }));
  const batch = toEncodedBatch(log.batch(), (f) => getCodec(f));
  await d.write(batch);
  const once = await server.readObjects('lake', 'replay/');
  await d.write(toEncodedBatch({ ...batch }, (f) => getCodec(f)));
  const twice = await server.readObjects('lake', 'replay/');
  expect(once.map((o) => o.key)).toEqual([`replay/public.users/${positionText(first!)}-${positionText(last!)}.jsonl`]);
  expect(twice.map((o) => [o.key, o.body.toString()])).toEqual(once.map((o) => [o.key, o.body.toString()]));
  expect(once[0]!.metadata).toEqual({
    'ductstream-format': 'json',
    'ductstream-count': '4',
    'ductstream-first': positionText(first!),
    'ductstream-last': positionText(last!),
    'ductstream-flow': 'flow-s3',
  });
  expect(
    getCodec('json')
      .decodeFile(once[0]!.body, users)
      .map((e) => e.op),
  ).toEqual(['insert', 'insert', 'update', 'delete']);
});

test('parquet objects honour the compression option; DuckDB reads them; decimals stay exact', async () => {
  const d = await destination({ prefix: 'pq', compression: 'zstd' }, 'parquet');
  const log = new ChangeLog();
  log.tx((t) => {
    for (let i = 1; i <= 100; i++) t.insert(users, { id: BigInt(i), name: `n${i}`, amount: `${i}.${String(i % 100).padStart(2, '0')}` });
  });
  await d.write(toEncodedBatch(log.batch(), (f) => getCodec(f)));
  const [obj] = await server.readObjects('lake', 'pq/');
  expect(obj!.key.endsWith('.parquet')).toBe(true);
  expect(obj!.contentType).toBe(getCodec('parquet').fileContentType);
  const file = join(dir, 'obj.parquet');
  writeFileSync(file, obj!.body);
  const duck = await DuckDBInstance.create(':memory:');
  const conn = await duck.connect();
  const codecs = (await conn.runAndReadAll(`SELECT DISTINCT compression FROM parquet_metadata('${file}')`)).getRowObjectsJson();
  const rows = (await conn.runAndReadAll(`SELECT count(*)::INT AS n FROM read_parquet('${file}')`)).getRowObjectsJson();
  conn.closeSync();
  duck.closeSync();
  expect(codecs.map((r) => String(r.compression as string).toUpperCase())).toEqual(['ZSTD']);
  expect(rows).toEqual([{ n: 100 }]);
  expect(getCodec('parquet').decodeFile(obj!.body, users).at(-1)!.after).toEqual({ id: 100n, name: 'n100', amount: '100.00' });
});

test('a missing bucket fails open() permanently, naming the destination and the bucket option', async () => {
  const kind = getDestinationKind('s3', 'destinations[1].type');
  const config = kind.parseConfig({ ...server.clientOptions, bucket: 'no-such-bucket' }, 'destinations[1].options');
  const d = await kind.create(config, { flowId: 'f', name: 'lake', wireFormat: 'json', parallelism: 1, log: silentLogger });
  const err = await d.open().catch((e: unknown) => e);
  expect(err).toBeInstanceOf(DuctError);
  expect((err as DuctError).message).toContain('s3 destination "lake": cannot open the bucket (destinations[1].options.bucket) (bucket no-such-bucket)');
  expect((err as DuctError).retry).toBe('never');
  expect((err as DuctError).hint).toBe('create bucket "no-such-bucket" or fix destinations[1].options.bucket');
  expect((err as DuctError).message).not.toContain('S3RVER');
});

test('an unreachable endpoint fails open() with a retryable error naming the endpoint option', async () => {
  const kind = getDestinationKind('s3', 'destinations[0].type');
  const config = kind.parseConfig(
    { ...server.clientOptions, bucket: 'lake', endpoint: 'http://127.0.0.1:1', request_timeout: '2s' },
    'destinations[0].options',
  );
  const d = await kind.create(config, { flowId: 'f', name: 'lake', wireFormat: 'json', parallelism: 1, log: silentLogger });
  const err = await d.open().catch((e: unknown) => e);
  expect(err).toBeInstanceOf(DuctError);
  expect((err as DuctError).retry).toBe('backoff');
  expect((err as DuctError).message).toContain('s3 destination "lake": cannot open the bucket');
  expect((err as DuctError).hint).toBe('check that the S3 endpoint is reachable (destinations[0].options.endpoint, or AWS when unset)');
});
