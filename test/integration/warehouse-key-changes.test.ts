/**
 * Primary key changes of a DEFERRABLE key (swaps of two keys in one statement, cycles of three, a
 * key moved and moved back) on every table destination, end to end: the real private PostgreSQL,
 * the worker binary, and per flow five destinations — DuckDB (a file), ClickHouse in both apply
 * modes (chdb behind the HTTP interface, read with FINAL for the versioned mode), Snowflake and
 * Snowpipe (against the Snowflake stand-in: no Snowflake runs here). After each run every
 * destination must equal the source table.
 *
 * Two flows: one whose transactions each reach the destinations in one write, and one with
 * `batch_size` 3 and writes of at most 3 changes, so a swap's two updates fall into different
 * writes (several swaps back to back put the cut at every offset).
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Column, TableSchema } from '../../src/core/change';
import { canonicalRow, sortedRows, type CanonicalRow } from '../conformance/canonical';
import { readClickhouseTables } from '../conformance/readers/clickhouse';
import { readDuckdbTables } from '../conformance/readers/duckdb';
import { readStandInTables } from '../conformance/readers/snowflake';
import { readSnowpipeTables } from '../conformance/readers/snowpipe';
import { testFlow, writeFlowFile } from '../support/flows';
import { startClickhouseServer, type ClickhouseServer } from '../support/peers/clickhouseServer';
import { SnowflakeStandIn } from '../support/peers/snowflake/standIn';
import { createTestDatabase, type TestDatabase } from '../support/pg';
import { runWorker } from '../support/worker';

let source: TestDatabase;
let state: TestDatabase;
let dir: string;
let clickhouse: ClickhouseServer;
let snowflake: SnowflakeStandIn;

const column = (name: string, pgType: string, valueKind: Column['valueKind'], typeOid: number): Column => ({
  name,
  pgType,
  typeOid,
  typmod: -1,
  formattedType: pgType === 'int4' ? 'integer' : 'text',
  nullable: name !== 'id',
  valueKind,
});

function schemaOf(table: string): TableSchema {
  return {
    schema: 'public',
    name: table,
    relationId: 0,
    columns: [column('id', 'int4', 'int', 23), column('v', 'text', 'text', 25), column('big', 'text', 'text', 25)],
    primaryKey: ['id'],
    replicaIdentity: 'full',
    keyDeferrable: true,
  };
}

/** A text of ~6 kB that does not compress below the TOAST threshold: stored out of line. */
const BIG = `(SELECT string_agg(md5(g::text || '/' || s::text), '') FROM generate_series(1, 200) s)`;

interface Case {
  /** Source table, flow id and the prefix of every destination target. */
  name: string;
  sourceOptions: Record<string, string>;
  env: Record<string, string>;
}

function destinations(c: Case): Array<{ name: string; type: string; options: Record<string, string> }> {
  return [
    { name: 'duck', type: 'duckdb', options: { dsn: join(dir, `${c.name}.duckdb`) } },
    { name: 'ch', type: 'clickhouse', options: { dsn: clickhouse.dsn, database: `${c.name}_versioned`, apply_mode: 'versioned' } },
    { name: 'chmut', type: 'clickhouse', options: { dsn: clickhouse.dsn, database: `${c.name}_mutations`, apply_mode: 'mutations' } },
    { name: 'sf', type: 'snowflake', options: { dsn: snowflake.dsn(), schema: `${c.name}_sf` } },
    {
      name: 'pipe',
      type: 'snowpipe',
      options: { dsn: snowflake.dsn(), stage: 'KEYS', stage_path: c.name, schema: `${c.name}_pipe`, table: 'changes', append_mode: 'true' },
    },
  ];
}

/** A row as `id|v|length:sha1 of big` (short enough to read in a failure). */
function brief(row: CanonicalRow): string {
  const big = row.big;
  const digest = typeof big === 'string' ? `${big.length}:${createHash('sha1').update(big).digest('hex').slice(0, 10)}` : String(big);
  return `${String(row.id)}|${String(row.v)}|${digest}`;
}

/** Every destination's rows, sorted by key, by destination name. */
async function destinationStates(c: Case): Promise<Record<string, string[]>> {
  const schema = schemaOf(c.name);
  const key = `public.${c.name}`;
  const sorted = (tables: Map<string, CanonicalRow[]>): string[] => sortedRows(tables.get(key) ?? [], schema).map(brief);
  return {
    duckdb: sorted(await readDuckdbTables(join(dir, `${c.name}.duckdb`), [schema])),
    'clickhouse versioned (FINAL)': sorted(await readClickhouseTables(clickhouse, `${c.name}_versioned`, [schema], true)),
    'clickhouse mutations': sorted(await readClickhouseTables(clickhouse, `${c.name}_mutations`, [schema], false)),
    'snowflake (stand-in)': sorted(await readStandInTables(snowflake, `${c.name}_sf`, [schema])),
    'snowpipe (stand-in)': sorted(await readSnowpipeTables(snowflake, `${c.name}_pipe`, [schema])),
  };
}

/** The source table as every destination should hold it. */
async function expectedStates(c: Case): Promise<Record<string, string[]>> {
  const schema = schemaOf(c.name);
  const rows = await source.query(`SELECT id, v, big FROM public.${c.name}`);
  const expected = sortedRows(
    rows.map((r) => canonicalRow(r as Record<string, string | number | null>, schema)),
    schema,
  ).map(brief);
  return Object.fromEntries(
    ['duckdb', 'clickhouse versioned (FINAL)', 'clickhouse mutations', 'snowflake (stand-in)', 'snowpipe (stand-in)'].map((d) => [d, expected]),
  );
}

async function run(c: Case, args: string[]): Promise<void> {
  const r = await runWorker([...args, '-max-empty-reads', '1'], { DUCTSTREAM_POSTGRES_DSN: state.dsn, ...c.env }, 240_000);
  if (r.code !== 0) console.log(r.stderr.slice(-4000));
  expect(r.code).toBe(0);
}

beforeAll(async () => {
  source = await createTestDatabase('wkeys_src');
  state = await createTestDatabase('wkeys_state');
  dir = mkdtempSync(join(tmpdir(), 'ductstream-wkeys-'));
  clickhouse = await startClickhouseServer();
  snowflake = await SnowflakeStandIn.start();
}, 120_000);

afterAll(async () => {
  await snowflake?.stop();
  await clickhouse?.dispose();
  await source?.drop();
  await state?.drop();
  rmSync(dir, { recursive: true, force: true });
}, 60_000);

const CASES: Array<[string, Case]> = [
  ['each transaction in one write', { name: 'kone', sourceOptions: { batch_size: '1000' }, env: {} }],
  [
    'a swap split across two writes (batch_size 3, writes of at most 3 changes)',
    { name: 'ksplit', sourceOptions: { batch_size: '3' }, env: { DUCTSTREAM_MAX_WRITE_ROWS: '3' } },
  ],
];

describe.each(CASES)('key changes of a DEFERRABLE key on every table destination: %s', (_title, c) => {
  it('swaps, a cycle of three and a key moved and moved back end equal to the source', async () => {
    // A DEFERRABLE key cannot be the replica identity: such a table publishes updates only with FULL.
    await source.query(`CREATE TABLE public.${c.name} (id int PRIMARY KEY DEFERRABLE INITIALLY IMMEDIATE, v text, big text)`);
    await source.query(`ALTER TABLE public.${c.name} REPLICA IDENTITY FULL`);
    const flow = testFlow({
      id: c.name,
      sourceDsn: source.dsn,
      slot: `${c.name}_slot`,
      publication: `${c.name}_pub`,
      tables: [`public.${c.name}`],
      destinations: destinations(c),
      sourceOptions: c.sourceOptions,
    });
    await run(c, ['-flow-file', writeFlowFile(dir, flow)]);
    await source.query(`INSERT INTO public.${c.name} SELECT g, 'v' || g, ${BIG} FROM generate_series(1, 12) g`);
    await source.query(`INSERT INTO public.${c.name} SELECT g, 'filler ' || g, 'f' || g FROM generate_series(20, 24) g`);
    await run(c, ['-flow-id', c.name]);
    expect(await destinationStates(c)).toEqual(await expectedStates(c));

    await source.query(`BEGIN;
      UPDATE public.${c.name} SET v = v || '+' WHERE id BETWEEN 20 AND 24;
      UPDATE public.${c.name} SET id = CASE id WHEN 1 THEN 2 WHEN 2 THEN 1 END, v = v || '-swapped' WHERE id IN (1, 2);
      UPDATE public.${c.name} SET id = CASE id WHEN 3 THEN 4 WHEN 4 THEN 3 END WHERE id IN (3, 4);
      UPDATE public.${c.name} SET id = CASE id WHEN 5 THEN 6 WHEN 6 THEN 5 END, big = big || '-moved' WHERE id IN (5, 6);
      UPDATE public.${c.name} SET id = CASE id WHEN 7 THEN 8 WHEN 8 THEN 9 WHEN 9 THEN 7 END WHERE id IN (7, 8, 9);
      UPDATE public.${c.name} SET id = 100, v = 'away' WHERE id = 10;
      UPDATE public.${c.name} SET id = 10, v = 'back' WHERE id = 100;
      UPDATE public.${c.name} SET v = v || '+' WHERE id BETWEEN 20 AND 24;
      COMMIT`);
    await source.query(`UPDATE public.${c.name} SET id = CASE id WHEN 11 THEN 12 WHEN 12 THEN 11 END WHERE id IN (11, 12)`);
    await source.query(`BEGIN;
      UPDATE public.${c.name} SET id = CASE id WHEN 1 THEN 2 WHEN 2 THEN 1 END WHERE id IN (1, 2);
      UPDATE public.${c.name} SET id = CASE id WHEN 1 THEN 2 WHEN 2 THEN 1 END WHERE id IN (1, 2);
      DELETE FROM public.${c.name} WHERE id = 3;
      UPDATE public.${c.name} SET id = 3 WHERE id = 4;
      COMMIT`);
    await run(c, ['-flow-id', c.name]);
    const expected = await expectedStates(c);
    expect(expected.duckdb).toHaveLength(16);
    expect(await destinationStates(c)).toEqual(expected);
  }, 600_000);
});
