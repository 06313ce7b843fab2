/**
 * Key moves of a DEFERRABLE primary key on the snowpipe destination, end to end: the worker
 * binary, the real private PostgreSQL and the Snowflake stand-in (DuckDB behind Snowflake's REST
 * protocol, the real snowflake-sdk; no Snowflake runs here), with `batch_size` 3 and writes of at
 * most 3 changes so the transactions are cut across writes. A key a row moved (or was inserted)
 * into and out of again may still hold another row, which only the source can tell: the file
 * carries that row (a `read` record at the change's position) instead of the key's delete. The
 * append-only table replayed as a consumer would (stream order, latest record per key, deletes
 * removing the key) must equal the source table.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Column, TableSchema } from '../../src/core/change';
import { readSnowpipeTables } from '../conformance/readers/snowpipe';
import { sorted } from '../support/eventViews';
import { testFlow, writeFlowFile } from '../support/flows';
import { SnowflakeStandIn } from '../support/peers/snowflake/standIn';
import { createTestDatabase, type TestDatabase } from '../support/pg';
import { runWorker } from '../support/worker';

let snowflake: SnowflakeStandIn;
let source: TestDatabase;
let state: TestDatabase;
let dir: string;

beforeAll(async () => {
  snowflake = await SnowflakeStandIn.start();
  source = await createTestDatabase('pkref_src');
  state = await createTestDatabase('pkref_state');
  dir = mkdtempSync(join(tmpdir(), 'ductstream-pkref-'));
}, 120_000);

afterAll(async () => {
  await snowflake?.stop();
  await source?.drop();
  await state?.drop();
  rmSync(dir, { recursive: true, force: true });
}, 60_000);

const column = (name: string, pgType: string, valueKind: Column['valueKind'], typeOid: number): Column => ({
  name,
  pgType,
  typeOid,
  typmod: -1,
  formattedType: pgType === 'int4' ? 'integer' : 'text',
  nullable: name !== 'id',
  valueKind,
});
const VIEW: TableSchema = {
  schema: 'public',
  name: 'pk',
  relationId: 0,
  columns: [column('id', 'int4', 'int', 23), column('v', 'text', 'text', 25)],
  primaryKey: ['id'],
  replicaIdentity: 'full',
  keyDeferrable: true,
};
const row = (r: Record<string, unknown>): string => `${String(r.id)}|${String(r.v)}`;

test('snowpipe (stand-in): a key a row moved into and out of again keeps its row, read from the source', async () => {
  await source.query('CREATE TABLE public.pk (id int PRIMARY KEY DEFERRABLE INITIALLY IMMEDIATE, v text)');
  await source.query('ALTER TABLE public.pk REPLICA IDENTITY FULL');
  const flow = testFlow({
    id: 'pkref',
    sourceDsn: source.dsn,
    slot: 'pkref_slot',
    publication: 'pkref_pub',
    tables: ['public.pk'],
    sourceOptions: { batch_size: '3' },
    destinations: [
      {
        name: 'pipe',
        type: 'snowpipe',
        options: { dsn: snowflake.dsn(), stage: 'KEYS', stage_path: 'pkref', schema: 'pkref', table: 'changes', append_mode: 'true' },
      },
    ],
  });
  const env = { DUCTSTREAM_POSTGRES_DSN: state.dsn, DUCTSTREAM_MAX_WRITE_ROWS: '3' };
  const run = async (args: string[]): Promise<string> => {
    const r = await runWorker([...args, '-max-empty-reads', '1'], env, 240_000);
    if (r.code !== 0) throw new Error(`worker exited ${r.code}: ${r.stderr.slice(-3000)}`);
    return r.stderr;
  };
  await run(['-flow-file', writeFlowFile(dir, flow)]);
  const rows = (o: number): string =>
    `INSERT INTO public.pk VALUES (${o + 1}, 'same'), (${o + 2}, 'same'), (${o + 3}, 'a'), (${o + 4}, 'b'), (${o + 7}, 'e'),
      (${o + 11}, 'p'), (${o + 12}, 'q'), (${o + 13}, 'r'), (${o + 14}, 's')`;
  const blocks = [
    // Two rows equal but for the key swapped: both stay.
    (o: number) => `UPDATE public.pk SET id = CASE id WHEN ${o + 1} THEN ${o + 2} ELSE ${o + 1} END WHERE id IN (${o + 1}, ${o + 2});`,
    // A (3) moves into 4 while B holds it, then on to 40: 4 keeps B.
    (o: number) => `UPDATE public.pk SET id = ${o + 4} WHERE id = ${o + 3}; UPDATE public.pk SET id = ${o + 40} WHERE id = ${o + 4} AND v = 'a';`,
    // A row inserted at 7 while B holds it, then that row deleted: 7 keeps B.
    (o: number) => `INSERT INTO public.pk VALUES (${o + 7}, 'x'); DELETE FROM public.pk WHERE id = ${o + 7} AND v = 'x';`,
    // A (11) moves into 12; B is updated in place at 12, then deleted: 12 holds A.
    (o: number) =>
      `UPDATE public.pk SET id = ${o + 12} WHERE id = ${o + 11}; UPDATE public.pk SET v = 'q2' WHERE id = ${o + 12} AND v = 'q';
       DELETE FROM public.pk WHERE id = ${o + 12} AND v = 'q2';`,
    // A (13) moves into 14; B is updated in place at 14, then moves on to 60: 14 holds A.
    (o: number) =>
      `UPDATE public.pk SET id = ${o + 14} WHERE id = ${o + 13}; UPDATE public.pk SET v = 's2' WHERE id = ${o + 14} AND v = 's';
       UPDATE public.pk SET id = ${o + 60} WHERE id = ${o + 14} AND v = 's2';`,
  ];
  await source.query(rows(0));
  for (const b of blocks) await source.query(`BEGIN; SET CONSTRAINTS ALL DEFERRED; ${b(0)} COMMIT`);
  await source.query(`INSERT INTO public.pk VALUES (20, 'filler')`);
  await source.query(rows(100));
  await source.query(`BEGIN; SET CONSTRAINTS ALL DEFERRED; UPDATE public.pk SET v = v || '+' WHERE id = 20; ${blocks.map((b) => b(100)).join('\n')} COMMIT`);
  const log = await run(['-flow-id', 'pkref']);

  const src = sorted((await source.query<{ id: number; v: string }>('SELECT id, v FROM public.pk')).map(row));
  expect(src).toEqual(
    sorted(
      [0, 100]
        .flatMap((o) => [`${o + 1}|same`, `${o + 2}|same`, `${o + 4}|b`, `${o + 40}|a`, `${o + 7}|e`, `${o + 12}|p`, `${o + 14}|r`, `${o + 60}|s2`])
        .concat('20|filler+'),
    ),
  );
  const pipe = (await readSnowpipeTables(snowflake, 'pkref', [VIEW])).get('public.pk') ?? [];
  expect(sorted(pipe.map(row))).toEqual(src);
  expect(log).toContain('were read from the source');
}, 600_000);
