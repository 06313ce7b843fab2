/**
 * Backfill into every warehouse destination of one flow, through the worker binary: DuckDB,
 * ClickHouse (26, chdb behind the HTTP interface, versioned ReplacingMergeTree), Snowflake and
 * Snowpipe (the Snowflake stand-in, real snowflake-sdk). Snapshot rows land first, then the stream
 * applies later changes over them; each destination read back equals the source, and no snapshot
 * row is newer than a streamed change of its key.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { queryDuckDbFile } from '../support/duckdbFile';
import { testFlow, writeFlowFile } from '../support/flows';
import { startClickhouseServer, type ClickhouseServer } from '../support/peers/clickhouseServer';
import { SnowflakeStandIn } from '../support/peers/snowflake/standIn';
import { createTestDatabase, type TestDatabase } from '../support/pg';
import { runWorker } from '../support/worker';

let source: TestDatabase;
let state: TestDatabase;
let clickhouse: ClickhouseServer;
let standIn: SnowflakeStandIn;
let dir: string;
const ROWS = 2500;

beforeAll(async () => {
  [source, state, clickhouse, standIn] = await Promise.all([
    createTestDatabase('bfw_src'),
    createTestDatabase('bfw_state'),
    startClickhouseServer(),
    SnowflakeStandIn.start(),
  ]);
  dir = mkdtempSync(join(tmpdir(), 'ductstream-bfw-'));
  await source.query('CREATE TABLE public.items (id bigint PRIMARY KEY, name text, v int NOT NULL)');
  await source.query(`INSERT INTO public.items SELECT g, 'item ' || g, g FROM generate_series(1, ${ROWS}) g`);
  await source.query('ANALYZE public.items');
}, 120_000);

afterAll(async () => {
  await Promise.allSettled([source?.drop(), state?.drop(), clickhouse?.dispose(), standIn?.stop()]);
  rmSync(dir, { recursive: true, force: true });
});

type Item = { id: string; name: string | null; v: number };
const norm = (rows: Array<Record<string, unknown>>): Item[] =>
  rows.map((r) => ({ id: String(r.id), name: r.name === null ? null : String(r.name as string), v: Number(r.v) })).sort((a, b) => Number(a.id) - Number(b.id));

it('DuckDB, ClickHouse, Snowflake and Snowpipe get the snapshot rows and the changes streamed after them', async () => {
  const duck = join(dir, 'items.duckdb');
  const file = writeFlowFile(
    dir,
    testFlow({
      id: 'bfw',
      sourceDsn: source.dsn,
      slot: 'bfw_slot',
      publication: 'bfw_pub',
      tables: ['public.items'],
      sourceOptions: { batch_size: '500' },
      destinations: [
        { name: 'duck', type: 'duckdb', options: { dsn: duck } },
        { name: 'ch', type: 'clickhouse', options: { dsn: clickhouse.dsn, database: 'bfw' } },
        { name: 'sf', type: 'snowflake', options: { dsn: standIn.dsn(), schema: 'bfw' } },
        { name: 'pipe', type: 'snowpipe', options: { dsn: standIn.dsn(), schema: 'bfp', table: 'items', append_mode: 'true', meta_table_enabled: 'false' } },
      ],
    }),
  );
  const env = { DUCTSTREAM_POSTGRES_DSN: state.dsn, DUCTSTREAM_BACKFILL_CHUNK_ROWS: '700' };
  const stored = await runWorker(['-flow-file', file, '-max-empty-reads', '1'], env, 180_000);
  expect(stored.stderr).not.toMatch(/error/i);
  expect(stored.code).toBe(0);

  const backfill = await runWorker(
    ['-flow-id', 'bfw', '-mode', 'backfill', '-tables', 'public.items', '-partition-column', 'id', '-partition-count', '2'],
    env,
    300_000,
  );
  expect(backfill.stderr).toMatch(new RegExp(`public\\.items: ${ROWS}/${ROWS} rows`));
  expect(backfill.code).toBe(0);

  await source.query(`BEGIN;
    UPDATE public.items SET name = 'changed', v = v + 100000 WHERE id IN (1, 2, 3);
    DELETE FROM public.items WHERE id IN (10, 11);
    INSERT INTO public.items VALUES (${ROWS + 1}, 'new', -1);
    COMMIT`);
  const streamed = await runWorker(['-flow-id', 'bfw', '-max-empty-reads', '1'], env, 300_000);
  expect(streamed.code).toBe(0);

  const want = norm(await source.query('SELECT id, name, v FROM public.items'));
  expect(want).toHaveLength(ROWS - 1);
  expect(norm(await queryDuckDbFile(duck, 'SELECT id, name, v FROM public.items'))).toEqual(want);
  expect(norm(await clickhouse.rows('SELECT toString(id) AS id, name, v FROM bfw.items FINAL'))).toEqual(want);
  expect(norm(await standIn.query('SELECT CAST(id AS VARCHAR) AS id, name, v FROM "bfw"."items"'))).toEqual(want);

  // Snowpipe appends every change: the last one of each key (by position) is the source's row; the
  // snapshot rows are there as op "read", each at a position below the key's streamed changes.
  const appended = await standIn.query(
    `SELECT CAST(id AS VARCHAR) AS id, name, v, "__ds_op" AS op, CAST("__ds_lsn" AS HUGEINT) AS lsn, CAST("__ds_seq" AS BIGINT) AS seq FROM "bfp"."items"`,
  );
  expect(appended.filter((r) => r.op === 'read')).toHaveLength(ROWS);
  const last = new Map<string, Record<string, unknown>>();
  const pos = (r: Record<string, unknown>): [bigint, bigint] => [BigInt(r.lsn as bigint), BigInt(r.seq as bigint)];
  for (const r of appended) {
    const seen = last.get(String(r.id));
    const [l, s] = pos(r);
    if (!seen || l > pos(seen)[0] || (l === pos(seen)[0] && s > pos(seen)[1])) last.set(String(r.id), r);
  }
  expect(norm([...last.values()].filter((r) => r.op !== 'delete'))).toEqual(want);
}, 900_000);
