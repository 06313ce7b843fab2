/**
 * DUCTSTREAM_DDL_GATE=true with ClickHouse (26, chdb behind its HTTP interface) and Snowflake (the
 * stand-in, through the real snowflake-sdk) in one flow: a changed table stops at the change in
 * both warehouses while the flow's other table goes on; `ddl approve` and `ddl apply` alter both
 * warehouses' tables in the approval workflow, and the table resumes from the change with nothing
 * lost. Every check reads both warehouses back and compares them with the source.
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
const env = (): NodeJS.ProcessEnv => ({ DUCTSTREAM_POSTGRES_DSN: state.dsn, DUCTSTREAM_DDL_GATE: 'true' });

type Row = Record<string, string | null>;
function text(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') return `${v}`;
  return JSON.stringify(v);
}
const norm = (rows: Record<string, unknown>[]): Row[] => rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, text(v)])));

async function run(): Promise<void> {
  const r = await runWorker(['-flow-id', 'whg', '-max-empty-reads', '1'], env(), 300_000);
  if (r.code !== 0) throw new Error(`worker exited ${r.code}: ${r.stderr.slice(-3000)}`);
}

async function sides(table: string, cols: string[]): Promise<{ src: Row[]; ch: Row[]; sf: Row[] }> {
  return {
    src: norm(await source.query(`SELECT ${cols.map((c) => `${c}::text AS ${c}`).join(', ')} FROM public.${table} ORDER BY id`)),
    ch: norm(await ch.rows(`SELECT ${cols.map((c) => `toString(${c}) AS ${c}`).join(', ')} FROM whg.${table} FINAL ORDER BY id`)),
    sf: norm(await sf.query(`SELECT ${cols.map((c) => `CAST("${c}" AS VARCHAR) AS "${c}"`).join(', ')} FROM "WHG"."${table}" ORDER BY "id"`)),
  };
}

async function expectEqual(table: string, cols: string[]): Promise<void> {
  const s = await sides(table, cols);
  expect(s.src.length).toBeGreaterThan(0);
  expect(s.ch).toEqual(s.src);
  expect(s.sf).toEqual(s.src);
}

beforeAll(async () => {
  [ch, sf] = await Promise.all([startClickhouseServer(), SnowflakeStandIn.start()]);
  source = await createTestDatabase('ddl_whg_src');
  state = await createTestDatabase('ddl_whg_state');
  dir = mkdtempSync(join(tmpdir(), 'ductstream-ddl-whg-'));
  await source.query('CREATE TABLE public.items (id int PRIMARY KEY, v text)');
  await source.query('CREATE TABLE public.other (id int PRIMARY KEY, v text)');
  const flowFile = writeFlowFile(
    dir,
    testFlow({
      id: 'whg',
      sourceDsn: source.dsn,
      slot: 'whg_slot',
      publication: 'whg_pub',
      tables: ['public.items', 'public.other'],
      destinations: [
        { name: 'ch', type: 'clickhouse', options: { dsn: ch.dsn, database: 'whg' } },
        { name: 'sf', type: 'snowflake', options: { dsn: sf.dsn(), schema: 'WHG' } },
      ],
    }),
  );
  expect((await runWorker(['-flow-file', flowFile, '-max-empty-reads', '1'], env(), 300_000)).code).toBe(0);
  await source.query(`INSERT INTO public.items SELECT g, 'i' || g FROM generate_series(1, 10) g`);
  await source.query(`INSERT INTO public.other SELECT g, 'o' || g FROM generate_series(1, 10) g`);
  await run();
  await expectEqual('items', ['id', 'v']);
}, 600_000);

afterAll(async () => {
  await source?.drop();
  await state?.drop();
  await ch?.dispose();
  await sf?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('the changed table stops in both warehouses; approve and apply alter both and it resumes with nothing lost', async () => {
  await source.query('ALTER TABLE public.items ADD COLUMN qty int');
  await source.query(`INSERT INTO public.items VALUES (11, 'i11', 11)`);
  await source.query(`UPDATE public.items SET qty = id WHERE id <= 3`);
  await source.query(`INSERT INTO public.other VALUES (11, 'o11')`);
  await run();
  const [ev] = await adminJson<Array<{ id: number; status: string }>>(['ddl', 'list', '-flow-id', 'whg', '-status', 'pending'], env());
  expect(ev).toBeDefined();
  await expectEqual('other', ['id', 'v']); // the other table goes on
  const held = await sides('items', ['id', 'v']);
  expect(held.ch).toHaveLength(10);
  expect(held.sf).toHaveLength(10);

  expect((await runAdmin(['ddl', 'approve', '-id', String(ev!.id)], env())).code).toBe(0);
  const w = spawnBin(WORKER_BIN, ['-flow-id', 'whg'], env());
  try {
    await w.waitForStderr(/replication started/, 120_000);
    expect((await runAdmin(['ddl', 'apply', '-id', String(ev!.id)], env())).code).toBe(0);
    const end = Date.now() + 120_000;
    while ((await state.query(`SELECT 1 FROM ductstream.ddl_events WHERE id = $1 AND status = 'applied'`, [ev!.id])).length === 0) {
      if (Date.now() > end) throw new Error('event not applied');
      await sleep(300);
    }
    await sleep(3000); // release check and reread
  } finally {
    w.child.kill('SIGINT');
    await w.exited;
  }
  await run();
  await expectEqual('items', ['id', 'v', 'qty']);
  await expectEqual('other', ['id', 'v']);
}, 400_000);
