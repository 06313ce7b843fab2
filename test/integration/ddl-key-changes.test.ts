/**
 * Primary key changes and retypes that cannot be applied in place, gate off, through the worker
 * binary: a real DuckDB file, ClickHouse (26, chdb behind its HTTP interface) and Snowflake (the
 * stand-in, through the real snowflake-sdk) in one flow, Snowpipe (the stand-in) in another.
 * DuckDB and ClickHouse rebuild the table with the new key, Snowflake moves its key metadata (its
 * MERGE follows the batch's key), and later updates and deletes apply by the new key. Snowpipe
 * holds the table until the COPY target records the new key by hand; `ddl apply` then resumes it.
 * Every check reads each destination back and compares it with the source read back.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { adminJson, runAdmin } from '../support/admin';
import { duckColumns, runFlowOnce, sleep, storedDdlEvents, waitFor } from '../support/ddl';
import { clickhouseSortingKey, clickhouseTypes, duckKey, expectSidesEqual, norm, sourceKey, standInTypes, type Sides } from '../support/ddlKeys';
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

const env = (): NodeJS.ProcessEnv => ({ DUCTSTREAM_POSTGRES_DSN: state.dsn });
const duck = (): string => join(dir, 'keys.duckdb');
const sides = (): Sides => ({
  source,
  duck: { file: duck(), schema: 'public' },
  ch: { server: ch, database: 'kc_ch' },
  sf: { standIn: sf, schema: 'KC_SF' },
});
/** ClickHouse with `apply_mode=mutations` (MergeTree ordered by the key, changed in place). */
const mutations = (): Sides => ({ source, ch: { server: ch, database: 'kc_chm', final: false } });
const run = (flow: string): Promise<void> => runFlowOnce(flow, env(), 300_000);

beforeAll(async () => {
  [ch, sf] = await Promise.all([startClickhouseServer(), SnowflakeStandIn.start()]);
  source = await createTestDatabase('ddl_keys_src');
  state = await createTestDatabase('ddl_keys_state');
  dir = mkdtempSync(join(tmpdir(), 'ductstream-ddl-keys-'));
  await source.query('CREATE TABLE public.items (id int PRIMARY KEY, code text NOT NULL, v text)');
  await source.query('CREATE TABLE public.wide (id int PRIMARY KEY, price numeric(10,2), v text)');
  await source.query('CREATE TABLE public.piped (id int PRIMARY KEY, code text NOT NULL, v text)');
  const warehouses = testFlow({
    id: 'kc',
    sourceDsn: source.dsn,
    slot: 'kc_slot',
    publication: 'kc_pub',
    tables: ['public.items', 'public.wide'],
    destinations: [
      { name: 'duck', type: 'duckdb', options: { dsn: duck() } },
      { name: 'ch', type: 'clickhouse', options: { dsn: ch.dsn, database: 'kc_ch' } },
      { name: 'chm', type: 'clickhouse', options: { dsn: ch.dsn, database: 'kc_chm', apply_mode: 'mutations' } },
      { name: 'sf', type: 'snowflake', options: { dsn: sf.dsn(), schema: 'KC_SF' } },
    ],
  });
  const piped = testFlow({
    id: 'kcpipe',
    sourceDsn: source.dsn,
    slot: 'kcpipe_slot',
    publication: 'kcpipe_pub',
    tables: ['public.piped'],
    destinations: [{ name: 'pipe', type: 'snowpipe', options: { dsn: sf.dsn(), schema: 'PIPE', table: 'piped', format: 'json', meta_table_enabled: 'false' } }],
  });
  for (const f of [warehouses, piped]) {
    const r = await runWorker(['-flow-file', writeFlowFile(dir, f), '-max-empty-reads', '1'], env(), 300_000);
    expect(r.code).toBe(0);
  }
  await source.query(`INSERT INTO public.items SELECT g, 'c' || g, 'v' || g FROM generate_series(1, 20) g`);
  await source.query(`INSERT INTO public.wide SELECT g, g + 0.25, 'w' || g FROM generate_series(1, 10) g`);
  await source.query(`INSERT INTO public.piped SELECT g, 'c' || g, 'v' || g FROM generate_series(1, 5) g`);
  await run('kc');
  await run('kcpipe');
  await expectSidesEqual(sides(), 'items', ['id', 'code', 'v'], ['id']);
}, 600_000);

afterAll(async () => {
  await source?.drop();
  await state?.drop();
  await ch?.dispose();
  await sf?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('DuckDB, ClickHouse and Snowflake (stand-in) follow a primary key moved to another column; later changes apply by the new key', async () => {
  // The new key admits a second row with id 1, inserted in the DDL's own transaction.
  await source.query(`BEGIN;
    ALTER TABLE public.items DROP CONSTRAINT items_pkey;
    ALTER TABLE public.items ADD PRIMARY KEY (code);
    INSERT INTO public.items VALUES (1, 'dup1', 'same id as c1');
    COMMIT`);
  await source.query(`UPDATE public.items SET v = 'updated' WHERE code IN ('c2', 'dup1')`);
  await source.query(`DELETE FROM public.items WHERE code = 'c1'`);
  await source.query(`UPDATE public.items SET code = 'c3-moved' WHERE code = 'c3'`);
  await source.query(`INSERT INTO public.items VALUES (2, 'dup2', 'another id 2')`);
  await run('kc');

  const events = (await storedDdlEvents(state, 'kc')).filter((e) => e.table === 'public.items');
  expect(events.map((e) => e.kind.split(',')).flat()).toContain('key_change');
  expect(events.every((e) => e.status === 'applied')).toBe(true);
  const rows = await expectSidesEqual(sides(), 'items', ['id', 'code', 'v'], ['id', 'code']);
  expect(rows.filter((r) => r.id === '1').map((r) => r.code)).toEqual(['dup1']);
  await expectSidesEqual(mutations(), 'items', ['id', 'code', 'v'], ['id', 'code']);

  const key = await sourceKey(source, 'public.items');
  expect(key).toEqual(['code']);
  expect(await duckKey(duck(), 'public', 'items')).toEqual(key);
  expect(await clickhouseSortingKey(ch, 'kc_ch', 'items')).toEqual(key);
  expect(await clickhouseSortingKey(ch, 'kc_chm', 'items')).toEqual(key);
  expect(sf.keys.keyOf('KC_SF', 'items')).toEqual(key);
}, 400_000);

test('a key column retyped int to bigint rebuilds DuckDB and ClickHouse; a scale change rebuilds the Snowflake column', async () => {
  await source.query('ALTER TABLE public.wide ALTER COLUMN id TYPE bigint, ALTER COLUMN price TYPE numeric(12,4)');
  await source.query(`INSERT INTO public.wide VALUES (5000000000, 1.2345, 'big')`);
  await source.query(`UPDATE public.wide SET price = price + 0.0001, v = 'u' || id WHERE id <= 3`);
  await source.query(`DELETE FROM public.wide WHERE id = 4`);
  await run('kc');

  const events = (await storedDdlEvents(state, 'kc')).filter((e) => e.table === 'public.wide');
  expect(events.length).toBeGreaterThan(0);
  expect(events.every((e) => e.status === 'applied')).toBe(true);
  // Decimals compared as integers of 1/10000: each side prints trailing zeros its own way.
  const price = {
    pg: '(price * 10000)::bigint::text',
    duck: 'CAST(price * 10000 AS BIGINT)::VARCHAR',
    ch: 'toString(toInt64(price * 10000))',
    sf: 'CAST(CAST("price" * 10000 AS BIGINT) AS VARCHAR)',
  };
  const rows = await expectSidesEqual(sides(), 'wide', ['id', 'price', 'v'], ['id'], { price });
  expect(rows.map((r) => r.id)).toContain('5000000000');
  await expectSidesEqual(mutations(), 'wide', ['id', 'price', 'v'], ['id'], { price });
  expect((await clickhouseTypes(ch, 'kc_chm', 'wide')).id).toBe('Int64');

  expect(Object.fromEntries(await duckColumns(duck(), 'wide'))).toMatchObject({ id: 'BIGINT', price: 'DECIMAL(12,4)' });
  expect(await duckKey(duck(), 'public', 'wide')).toEqual(['id']);
  expect(await clickhouseTypes(ch, 'kc_ch', 'wide')).toMatchObject({ id: 'Int64', price: 'Nullable(Decimal(12, 4))' });
  expect(await clickhouseSortingKey(ch, 'kc_ch', 'wide')).toEqual(await sourceKey(source, 'public.wide'));
  expect(await standInTypes(sf, 'KC_SF', 'wide')).toMatchObject({ price: 'DECIMAL(12,4)' });
}, 400_000);

test('Snowpipe (stand-in) holds its table at a key change until the COPY target records the new key; ddl apply then resumes it', async () => {
  await source.query(`BEGIN;
    ALTER TABLE public.piped DROP CONSTRAINT piped_pkey, ADD PRIMARY KEY (code);
    INSERT INTO public.piped VALUES (1, 'dup1', 'same id as c1');
    COMMIT`);
  await source.query(`INSERT INTO public.piped VALUES (6, 'c6', 'v6')`);
  await run('kcpipe');

  const [ev] = await adminJson<Array<{ id: number; kind: string; status: string; reason: string }>>(['ddl', 'list', '-flow-id', 'kcpipe'], env());
  expect(ev).toMatchObject({ kind: 'key_change', status: 'failed' });
  expect(ev!.reason).toContain('the primary key changed from (id) to (code)');
  expect(ev!.reason).toContain('ALTER TABLE "PIPE"."piped" ADD PRIMARY KEY ("code")');
  expect(ev!.reason).toContain('must move to the new key by hand first');
  const loaded = async () => norm(await sf.query(`SELECT DISTINCT CAST("id" AS VARCHAR) AS id, "code" AS code, "v" AS v FROM "PIPE"."piped" ORDER BY 2`));
  expect((await loaded()).map((r) => r.code)).toEqual(['c1', 'c2', 'c3', 'c4', 'c5']);

  // `ddl apply` before the manual step fails again with the same reason.
  const w = spawnBin(WORKER_BIN, ['-flow-id', 'kcpipe'], env());
  try {
    await w.waitForStderr(/replication started/, 120_000);
    expect((await runAdmin(['ddl', 'apply', '-id', String(ev!.id)], env())).code).toBe(0);
    await waitFor('the early apply to fail again', async () => {
      const [again] = await state.query<{ status: string; apply_requested: boolean }>(
        'SELECT status, apply_requested FROM ductstream.ddl_events WHERE id = $1',
        [ev!.id],
      );
      return again!.status === 'failed' && !again!.apply_requested ? true : undefined;
    });
    expect(await loaded()).toHaveLength(5);
    // The manual procedure: readers moved to the new key, then the key recorded on the target.
    await sf.snowflakeSql('ALTER TABLE "PIPE"."piped" ADD PRIMARY KEY ("code")');
    expect((await runAdmin(['ddl', 'apply', '-id', String(ev!.id)], env())).code).toBe(0);
    await waitFor('the held rows to arrive', async () => ((await loaded()).length === 7 ? true : undefined));
    await sleep(500);
  } finally {
    w.child.kill('SIGINT');
    await w.exited;
  }
  const [applied] = await storedDdlEvents(state, 'kcpipe');
  expect(applied!.status).toBe('applied');
  expect(sf.keys.keyOf('PIPE', 'piped')).toEqual(await sourceKey(source, 'public.piped'));
  expect(await loaded()).toEqual(norm(await source.query(`SELECT id::text AS id, code, v FROM public.piped ORDER BY 2`)));
}, 400_000);
