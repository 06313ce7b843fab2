/**
 * Backfill chunks are read with `COPY (SELECT …) TO STDOUT` (text format) and decoded with the
 * streaming path's parsers: every type, NULLs, and text full of COPY's escapes (tabs, newlines,
 * backslashes, a literal `\N`) give the same row as the same insert streamed through pgoutput.
 */
import type { Change } from '../../src/core/change';
import { silentLogger } from '../../src/core/log';
import { catalogQueryOf } from '../../src/source/postgres/catalogQuery';
import { planPartitions } from '../../src/source/postgres/snapshot/partitions';
import { loadSnapshotRelation, readChunk } from '../../src/source/postgres/snapshot/reader';
import { resolveSnapshotTables } from '../../src/source/postgres/snapshot/tables';
import { createTestDatabase, type TestDatabase } from '../support/pg';
import { openSource, prepared, pullChanges, uniqueName } from './source-postgres-helpers';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase('backfill_copy');
  await db.query(`CREATE TYPE mood AS ENUM ('happy', 'so sad')`);
  await db.query(`CREATE TABLE all_types (
      id int8 PRIMARY KEY, b bool, i2 int2, i4 int4, i8 int8, f4 float4, f8 float8, f8nan float8, f8inf float8,
      num numeric, num_s numeric(12,3), money_col money, t text, vc varchar(10), ch char(3), u uuid, m mood,
      j json, jb jsonb, by bytea, d date, d_bc date, d_inf date,
      ts timestamp, ts_bc timestamp, ts_inf timestamp, tstz timestamptz, tstz_ninf timestamptz,
      tm time, tmtz timetz, iv interval, ip inet, bits bit(4), pt point, rng int4range, x xml,
      ai int4[], at text[], a2 int8[][], ab bytea[], ats timestamptz[], ajb jsonb[], n_null text
    )`);
});

afterAll(async () => {
  await db.drop();
});

const ROWS = `
  (-9223372036854775808, true, -32768, 2147483647, 9223372036854775807, 1.5, 0.1, 'NaN', '-Infinity',
   '123456789012345678901234567890.123456789012345678901234567890', 12.5, 12.34, E'tab\\there\\nnew line\\r\\\\ back é ✓ 𝄞 "q"', 'varchar', 'ab',
   'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'so sad',
   '{"b": "x\\ty", "a": [1, 2.50]}', '{"b": "x\\ty\\\\z", "a": [1, 2.50]}', '\\x00ff000a095c41'::bytea,
   '1969-12-31', '0044-03-15 BC', 'infinity',
   '2024-02-29 23:59:59.999999', '0100-01-01 12:00:00 BC', '-infinity', '2024-01-02 03:04:05.123456+02', '-infinity',
   '13:14:15.5', '13:14:15+05:30', '1 year 2 mons 3 days 04:05:06.789', '192.168.0.1/24', B'1010', '(1.5,2)', '[1,10)', '<a>x</a>',
   '{1,NULL,3}', ARRAY['a b', NULL, 'NULL', 'q"x', '', E'tab\\there', 'back\\slash'], '{{1,2},{3,NULL}}', ARRAY['\\x0009'::bytea, NULL],
   ARRAY['2024-01-02 03:04:05+00'::timestamptz, NULL], ARRAY['{"k": "v\\n"}'::jsonb], NULL),
  (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, E'\\\\N', NULL, NULL, NULL, NULL,
   NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
   NULL, NULL, NULL, NULL, NULL, NULL, NULL),
  (3, false, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, '', '', '', NULL, 'happy', 'null', '"s"', ''::bytea, NULL, NULL, NULL,
   NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 'empty', NULL, '{}', '{}', NULL, NULL, NULL, NULL, 'N')`;

it('COPY rows decode to the values the stream produces for the same rows', async () => {
  const { config } = await prepared(db, { slot: uniqueName('s'), publication: uniqueName('p'), publication_tables: 'all_types', batch_timeout: '200ms' });
  const { source, it: batches } = openSource(config);
  let streamed: Change[];
  try {
    await db.query(`INSERT INTO all_types VALUES ${ROWS}`);
    streamed = (await pullChanges(batches, 3)).changes;
  } finally {
    await source.close();
  }

  const query = catalogQueryOf(db.client);
  const table = { schema: 'public', name: 'all_types' };
  const rel = await loadSnapshotRelation(query, table, config.resolveTypes, new Set());
  const tables = await resolveSnapshotTables(query, config, [table], undefined, { tables: 'tables', partitionColumn: 'partition_column' }, silentLogger);
  const [part] = planPartitions(tables, { partitionCount: 1, chunkRows: 1000 });
  const read: Change[] = [];
  for (let c = part!.firstChunk; c < part!.endChunk; c++)
    read.push(...(await readChunk(db.client, rel, part!, c, { lsn: 1n, snapshotLsn: 2n, timeMicros: 3n })));

  const byId = (cs: Change[]) => new Map(cs.map((c) => [String(c.after!.id), c]));
  const got = byId(read);
  expect(got.size).toBe(3);
  for (const [id, s] of byId(streamed)) {
    const r = got.get(id)!;
    expect(r.op).toBe('read');
    expect(r.after).toEqual(s.after);
    expect(r.key).toEqual(s.key);
  }
  expect(got.get('-9223372036854775808')!.after!.t).toBe('tab\there\nnew line\r\\ back é ✓ 𝄞 "q"');
  expect(got.get('2')!.after!.t).toBe('\\N');
  expect(got.get('2')!.after!.n_null).toBeNull();
  expect(got.get('3')!.after!.n_null).toBe('N');
});

it('a COPY that fails on the server rejects and leaves the connection usable', async () => {
  const { copyOut } = await import('../../src/source/postgres/snapshot/copyOut');
  await expect(copyOut(db.client, 'COPY (SELECT 1/0) TO STDOUT', () => undefined)).rejects.toThrow(/division by zero/);
  const rows: string[] = [];
  const n = await copyOut(db.client, `COPY (SELECT g, 'x' || g FROM generate_series(1, 3) g) TO STDOUT`, (buf, s, e) => rows.push(buf.toString('utf8', s, e)));
  expect(n).toBe(3);
  expect(rows).toEqual(['1\tx1\n', '2\tx2\n', '3\tx3\n']);
  await expect(
    copyOut(db.client, 'COPY (SELECT 1) TO STDOUT', () => {
      throw new Error('decoder failed');
    }),
  ).rejects.toThrow('decoder failed');
  expect((await db.query<{ one: number }>('SELECT 1 AS one'))[0]!.one).toBe(1);
});
