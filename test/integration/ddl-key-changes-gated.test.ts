/**
 * Primary key changes with DUCTSTREAM_DDL_GATE=true, through the worker and admin binaries, with a
 * real DuckDB file, ClickHouse (26, chdb behind its HTTP interface) and Snowflake (the stand-in,
 * through the real snowflake-sdk) in one flow. A key change together with a narrowing retype (which
 * Snowflake cannot apply in place) stops the table at the change while the flow's other table goes
 * on; `ddl approve` then `ddl apply` rebuild DuckDB and ClickHouse with the new key, re-key
 * Snowflake and rebuild its retyped column, and the table resumes from the change with later
 * updates and deletes applied by the new key. Every check compares each side with the source.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { adminJson, runAdmin } from '../support/admin';
import { duckColumns, runFlowOnce, sleep, waitFor } from '../support/ddl';
import { clickhouseSortingKey, clickhouseTypes, duckKey, expectSidesEqual, readSides, sourceKey, standInTypes, type Sides } from '../support/ddlKeys';
import { testFlow, writeFlowFile } from '../support/flows';
import { startClickhouseServer, type ClickhouseServer } from '../support/peers/clickhouseServer';
import { SnowflakeStandIn } from '../support/peers/snowflake/standIn';
import { createTestDatabase, type TestDatabase } from '../support/pg';
import { runWorker, spawnBin, WORKER_BIN } from '../support/worker';

let source: TestDatabase;
let state: TestDatabase;
let dir: string;
let ch: ClickhouseServer;
let sf: SnowflakeStandIn;

const env = (): NodeJS.ProcessEnv => ({ DUCTSTREAM_POSTGRES_DSN: state.dsn, DUCTSTREAM_DDL_GATE: 'true' });
const duck = (): string => join(dir, 'gated-keys.duckdb');
const sides = (): Sides => ({
  source,
  duck: { file: duck(), schema: 'public' },
  ch: { server: ch, database: 'kcg_ch' },
  sf: { standIn: sf, schema: 'KCG_SF' },
});
const run = (): Promise<void> => runFlowOnce('kcg', env(), 300_000);

interface EventView {
  id: number;
  table: string;
  kind: string;
  status: string;
}

beforeAll(async () => {
  [ch, sf] = await Promise.all([startClickhouseServer(), SnowflakeStandIn.start()]);
  source = await createTestDatabase('ddl_kcg_src');
  state = await createTestDatabase('ddl_kcg_state');
  dir = mkdtempSync(join(tmpdir(), 'ductstream-ddl-kcg-'));
  await source.query('CREATE TABLE public.items (id int PRIMARY KEY, code text NOT NULL, v text)');
  await source.query('CREATE TABLE public.other (id int PRIMARY KEY, v text)');
  const flow = testFlow({
    id: 'kcg',
    sourceDsn: source.dsn,
    slot: 'kcg_slot',
    publication: 'kcg_pub',
    tables: ['public.items', 'public.other'],
    destinations: [
      { name: 'duck', type: 'duckdb', options: { dsn: duck() } },
      { name: 'ch', type: 'clickhouse', options: { dsn: ch.dsn, database: 'kcg_ch' } },
      { name: 'sf', type: 'snowflake', options: { dsn: sf.dsn(), schema: 'KCG_SF' } },
    ],
  });
  expect((await runWorker(['-flow-file', writeFlowFile(dir, flow), '-max-empty-reads', '1'], env(), 300_000)).code).toBe(0);
  // v holds numbers as text: the approved retype to integer converts the rows already delivered.
  await source.query(`INSERT INTO public.items SELECT g, 'c' || (g % 4), (g * 10)::text FROM generate_series(1, 12) g`);
  await source.query(`INSERT INTO public.other SELECT g, 'o' || g FROM generate_series(1, 5) g`);
  await run();
  await expectSidesEqual(sides(), 'items', ['id', 'code', 'v'], ['id']);
}, 600_000);

afterAll(async () => {
  await source?.drop();
  await state?.drop();
  await ch?.dispose();
  await sf?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('a key change with a narrowing retype waits for approval; approve and apply rebuild or re-key every warehouse and the table resumes', async () => {
  // The new key (code, id) lets id repeat under another code; the row comes in the DDL's transaction.
  await source.query(`BEGIN;
    ALTER TABLE public.items DROP CONSTRAINT items_pkey;
    ALTER TABLE public.items ADD PRIMARY KEY (code, id);
    ALTER TABLE public.items ALTER COLUMN v TYPE integer USING v::integer;
    INSERT INTO public.items VALUES (1, 'c9', 1000);
    COMMIT`);
  await source.query(`UPDATE public.items SET v = v + 1 WHERE code = 'c1'`);
  await source.query(`DELETE FROM public.items WHERE code = 'c2' AND id = 2`);
  await source.query(`INSERT INTO public.other VALUES (6, 'o6')`);
  await run();

  const pending = await adminJson<EventView[]>(['ddl', 'list', '-flow-id', 'kcg', '-status', 'pending'], env());
  expect(pending.length).toBeGreaterThan(0);
  expect(new Set(pending.flatMap((e) => e.kind.split(',')))).toEqual(new Set(['key_change', 'retype_column']));
  await expectSidesEqual(sides(), 'other', ['id', 'v'], ['id']); // the other table goes on
  // items stopped at the change: every side still holds the 12 rows as they were before it.
  const held = await readSides(sides(), 'items', ['id', 'code'], ['id']);
  for (const side of [held.duck, held.ch, held.sf]) expect(side!.map((r) => r.id)).toEqual(Array.from({ length: 12 }, (_, i) => String(i + 1)));

  for (const e of pending) expect((await runAdmin(['ddl', 'approve', '-id', String(e.id)], env())).code).toBe(0);
  const w = spawnBin(WORKER_BIN, ['-flow-id', 'kcg'], env());
  try {
    await w.waitForStderr(/replication started/, 120_000);
    for (const e of pending) expect((await runAdmin(['ddl', 'apply', '-id', String(e.id)], env())).code).toBe(0);
    await waitFor('the events applied', async () => {
      const open = await state.query(`SELECT 1 FROM ductstream.ddl_events WHERE flow_id = 'kcg' AND status <> 'applied'`);
      return open.length === 0 ? true : undefined;
    });
    await sleep(3000); // release check (1 s) and reread
  } finally {
    w.child.kill('SIGINT');
    await w.exited;
  }
  await run();

  const rows = await expectSidesEqual(sides(), 'items', ['id', 'code', 'v'], ['id', 'code']);
  expect(rows.filter((r) => r.id === '1').map((r) => r.code)).toEqual(['c1', 'c9']);
  await expectSidesEqual(sides(), 'other', ['id', 'v'], ['id']);

  const key = await sourceKey(source, 'public.items');
  expect(key).toEqual(['code', 'id']);
  expect(await duckKey(duck(), 'public', 'items')).toEqual(key);
  expect(await clickhouseSortingKey(ch, 'kcg_ch', 'items')).toEqual(key);
  expect(sf.keys.keyOf('KCG_SF', 'items')).toEqual(key);
  expect(Object.fromEntries(await duckColumns(duck(), 'items'))).toMatchObject({ v: 'INTEGER' });
  expect((await clickhouseTypes(ch, 'kcg_ch', 'items')).v).toBe('Nullable(Int32)');
  expect((await standInTypes(sf, 'KCG_SF', 'items')).v).toBe('DECIMAL(38,0)');

  // Later changes after the resume apply by the new key too.
  await source.query(`UPDATE public.items SET v = -1 WHERE code = 'c9' AND id = 1`);
  await source.query(`DELETE FROM public.items WHERE code = 'c1' AND id = 1`);
  await run();
  const after = await expectSidesEqual(sides(), 'items', ['id', 'code', 'v'], ['id', 'code']);
  expect(after.filter((r) => r.id === '1')).toEqual([{ id: '1', code: 'c9', v: '-1' }]);
}, 600_000);
