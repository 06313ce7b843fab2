/**
 * Schema changes (gate off) followed by each warehouse through the worker binary: ClickHouse (26,
 * chdb behind its HTTP interface; kept and dropped columns), Snowflake (the stand-in, through the
 * real snowflake-sdk) and Snowpipe, which alters nothing and refuses a change its COPY would lose
 * until the table is altered by hand. Every check reads the destination back and compares it with
 * the source.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { adminJson, runAdmin } from '../support/admin';
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

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const env = (): NodeJS.ProcessEnv => ({ DUCTSTREAM_POSTGRES_DSN: state.dsn });

async function run(flow: string): Promise<string> {
  const r = await runWorker(['-flow-id', flow, '-max-empty-reads', '1'], env(), 300_000);
  if (r.code !== 0) throw new Error(`worker exited ${r.code}: ${r.stderr.slice(-3000)}`);
  return r.stderr;
}

type Row = Record<string, string | null>;
function text(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') return `${v}`;
  return JSON.stringify(v);
}
const norm = (rows: Record<string, unknown>[]): Row[] => rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, text(v)])));

async function src(cols: string[]): Promise<Row[]> {
  return norm(await source.query(`SELECT ${cols.map((c) => `${c}::text AS ${c}`).join(', ')} FROM public.items ORDER BY id`));
}
async function clickhouse(db: string, cols: string[]): Promise<Row[]> {
  return norm(await ch.rows(`SELECT ${cols.map((c) => `toString(${c}) AS ${c}`).join(', ')} FROM ${db}.items FINAL ORDER BY id`));
}
async function snowflake(cols: string[]): Promise<Row[]> {
  return norm(await sf.query(`SELECT ${cols.map((c) => `CAST("${c}" AS VARCHAR) AS "${c}"`).join(', ')} FROM "DDL_SF"."items" ORDER BY "id"`));
}
async function chColumns(db: string): Promise<Map<string, string>> {
  const rows = await ch.rows<{ name: string; type: string }>(
    `SELECT name, type FROM system.columns WHERE database = '${db}' AND table = 'items' ORDER BY position`,
  );
  return new Map(rows.map((r) => [r.name, r.type]));
}

async function expectAllEqual(cols: string[]): Promise<void> {
  const want = await src(cols);
  expect(want.length).toBeGreaterThan(0);
  expect(await clickhouse('ddl_ch', cols)).toEqual(want);
  expect(await clickhouse('ddl_ch_drop', cols)).toEqual(want);
  expect(await snowflake(cols)).toEqual(want);
}

beforeAll(async () => {
  [ch, sf] = await Promise.all([startClickhouseServer(), SnowflakeStandIn.start()]);
  source = await createTestDatabase('ddl_wh_src');
  state = await createTestDatabase('ddl_wh_state');
  dir = mkdtempSync(join(tmpdir(), 'ductstream-ddl-wh-'));
  await source.query('CREATE TABLE public.items (id int PRIMARY KEY, qty int NOT NULL, note text, old text NOT NULL)');
  await source.query('CREATE TABLE public.piped (id int PRIMARY KEY, v text)');
  const warehouses = writeFlowFile(
    dir,
    testFlow({
      id: 'wh',
      sourceDsn: source.dsn,
      slot: 'ddl_wh_slot',
      publication: 'ddl_wh_pub',
      tables: ['public.items'],
      destinations: [
        { name: 'ch', type: 'clickhouse', options: { dsn: ch.dsn, database: 'ddl_ch' } },
        { name: 'ch_drop', type: 'clickhouse', options: { dsn: ch.dsn, database: 'ddl_ch_drop', ddl_drop_columns: 'true' } },
        { name: 'sf', type: 'snowflake', options: { dsn: sf.dsn(), schema: 'DDL_SF' } },
      ],
    }),
  );
  const piped = writeFlowFile(
    dir,
    testFlow({
      id: 'pipe',
      sourceDsn: source.dsn,
      slot: 'ddl_pipe_slot',
      publication: 'ddl_pipe_pub',
      tables: ['public.piped'],
      destinations: [
        { name: 'pipe', type: 'snowpipe', options: { dsn: sf.dsn(), schema: 'PIPE', table: 'piped', format: 'json', meta_table_enabled: 'false' } },
      ],
    }),
  );
  for (const f of [warehouses, piped]) expect((await runWorker(['-flow-file', f, '-max-empty-reads', '1'], env(), 300_000)).code).toBe(0);
  await source.query(`INSERT INTO public.items SELECT g, g, 'n' || g, 'o' || g FROM generate_series(1, 20) g`);
  await source.query(`INSERT INTO public.piped SELECT g, 'v' || g FROM generate_series(1, 5) g`);
  await run('wh');
  await run('pipe');
  await expectAllEqual(['id', 'qty', 'note', 'old']);
}, 600_000);

afterAll(async () => {
  await source?.drop();
  await state?.drop();
  await ch?.dispose();
  await sf?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('ClickHouse and Snowflake follow an added column, a widened type and a rename', async () => {
  await source.query('ALTER TABLE public.items ADD COLUMN price numeric(12,2)');
  await source.query('ALTER TABLE public.items ALTER COLUMN qty TYPE bigint');
  await source.query('ALTER TABLE public.items RENAME COLUMN note TO label');
  await source.query(`INSERT INTO public.items SELECT g, g + 5000000000, 'n' || g, 'o' || g, g + 0.25 FROM generate_series(21, 25) g`);
  await source.query(`UPDATE public.items SET price = id + 0.75, qty = qty + 6000000000 WHERE id <= 5`);
  await run('wh');
  await expectAllEqual(['id', 'qty', 'label', 'old', 'price']);
  const cols = await chColumns('ddl_ch');
  expect(cols.get('qty')).toBe('Int64');
  expect(cols.get('price')).toBe('Nullable(Decimal(12, 2))');
  expect(cols.has('note')).toBe(false);
}, 300_000);

test('ClickHouse keeps a dropped NOT NULL column as Nullable (NULL in new rows), or drops it with ddl_drop_columns', async () => {
  expect((await chColumns('ddl_ch')).get('old')).toBe('String');
  await source.query('ALTER TABLE public.items DROP COLUMN old');
  await source.query(`INSERT INTO public.items VALUES (26, 26, 'n26', 26.25)`);
  await source.query(`UPDATE public.items SET label = 'changed' WHERE id = 1`);
  await run('wh');
  await expectAllEqual(['id', 'qty', 'label', 'price']);
  expect((await chColumns('ddl_ch')).get('old')).toBe('Nullable(String)');
  expect((await chColumns('ddl_ch_drop')).has('old')).toBe(false);
  expect(await ch.rows(`SELECT id, old FROM ddl_ch.items FINAL WHERE id IN (2, 26) ORDER BY id`)).toEqual([
    { id: 2, old: 'o2' },
    { id: 26, old: null },
  ]);
  // Snowflake keeps it too (its columns are nullable).
  expect(norm(await sf.query(`SELECT "old" FROM "DDL_SF"."items" WHERE "id" IN (2, 26) ORDER BY "id"`))).toEqual([{ old: 'o2' }, { old: null }]);
  const events = await adminJson<Array<{ kind: string; status: string }>>(['ddl', 'list', '-flow-id', 'wh'], env());
  expect(events.length).toBeGreaterThanOrEqual(2);
  expect(events.every((e) => e.status === 'applied')).toBe(true);
}, 300_000);

test('Snowpipe refuses a column its COPY would lose (only its table stops); altered by hand, ddl apply resumes it', async () => {
  await source.query('ALTER TABLE public.piped ADD COLUMN w text');
  await source.query(`INSERT INTO public.piped VALUES (6, 'v6', 'w6')`);
  await run('pipe');
  const [ev] = await adminJson<Array<{ id: number; status: string; reason: string }>>(['ddl', 'list', '-flow-id', 'pipe'], env());
  expect(ev).toMatchObject({ status: 'failed' });
  expect(ev!.reason).toContain('snowpipe destination "pipe" does not alter its COPY target "PIPE"."piped"');
  expect(ev!.reason).toContain('ALTER TABLE "PIPE"."piped" ADD COLUMN "w" VARCHAR');
  expect(await sf.query(`SELECT count(*)::INT AS n FROM "PIPE"."piped" WHERE "id" = 6`)).toEqual([{ n: 0 }]);
  await sf.query(`ALTER TABLE "PIPE"."piped" ADD COLUMN "w" VARCHAR`);
  const w = spawnBin(WORKER_BIN, ['-flow-id', 'pipe'], env());
  try {
    await w.waitForStderr(/replication started/, 120_000);
    expect((await runAdmin(['ddl', 'apply', '-id', String(ev!.id)], env())).code).toBe(0);
    const end = Date.now() + 60_000;
    while ((await sf.query(`SELECT 1 FROM "PIPE"."piped" WHERE "id" = 6`)).length === 0) {
      if (Date.now() > end) throw new Error('row 6 never arrived');
      await sleep(250);
    }
  } finally {
    w.child.kill('SIGINT');
    await w.exited;
  }
  const rows = norm(await sf.query(`SELECT DISTINCT CAST("id" AS VARCHAR) AS id, "v" AS v, "w" AS w FROM "PIPE"."piped" ORDER BY 1`));
  expect(rows).toEqual(norm(await source.query(`SELECT id::text AS id, v, w FROM public.piped ORDER BY 1`)));
}, 300_000);
