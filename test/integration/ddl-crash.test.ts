/**
 * kill -9 of the worker in the middle of applying a schema change to ClickHouse (26, chdb behind
 * its HTTP interface), which is taken away so the apply cannot finish: with the gate off (the
 * change is recorded as approved, its ALTERs not run) and with the gate on (the approval
 * workflow's apply step is running). After a restart with ClickHouse back, the change is applied
 * once, and the table reads back (FINAL) equal to the source, nothing lost or doubled.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { adminJson, runAdmin } from '../support/admin';
import { testFlow, writeFlowFile } from '../support/flows';
import { startClickhouseServer, type ClickhouseServer } from '../support/peers/clickhouseServer';
import { createTestDatabase, type TestDatabase } from '../support/pg';
import { runWorker, spawnBin, WORKER_BIN } from '../support/worker';

let source: TestDatabase;
let state: TestDatabase;
let dir: string;
let ch: ClickhouseServer;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const env = (gate: boolean): NodeJS.ProcessEnv => ({ DUCTSTREAM_POSTGRES_DSN: state.dsn, DUCTSTREAM_DDL_GATE: String(gate) });

interface EventView {
  id: number;
  kind: string;
  status: string;
}

async function run(gate: boolean): Promise<void> {
  const r = await runWorker(['-flow-id', 'crashy', '-max-empty-reads', '1'], env(gate), 300_000);
  if (r.code !== 0) throw new Error(`worker exited ${r.code}: ${r.stderr.slice(-3000)}`);
}

async function expectEqual(cols: string[]): Promise<void> {
  const src = await source.query(`SELECT ${cols.map((c) => `${c}::text AS ${c}`).join(', ')} FROM public.items ORDER BY id`);
  const dst = await ch.rows(`SELECT ${cols.map((c) => `toString(${c}) AS ${c}`).join(', ')} FROM crash.items FINAL ORDER BY id`);
  expect(src.length).toBeGreaterThan(0);
  expect(dst).toEqual(src);
}

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 120_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(250);
  }
}

const events = (): Promise<EventView[]> => adminJson<EventView[]>(['ddl', 'list', '-flow-id', 'crashy'], env(false));

beforeAll(async () => {
  ch = await startClickhouseServer();
  source = await createTestDatabase('ddl_crash_src');
  state = await createTestDatabase('ddl_crash_state');
  dir = mkdtempSync(join(tmpdir(), 'ductstream-ddl-crash-'));
  await source.query('CREATE TABLE public.items (id int PRIMARY KEY, v text)');
  const flowFile = writeFlowFile(
    dir,
    testFlow({
      id: 'crashy',
      sourceDsn: source.dsn,
      slot: 'crashy_slot',
      publication: 'crashy_pub',
      tables: ['public.items'],
      destinations: [{ name: 'ch', type: 'clickhouse', options: { dsn: ch.dsn, database: 'crash' } }],
    }),
  );
  expect((await runWorker(['-flow-file', flowFile, '-max-empty-reads', '1'], env(false), 300_000)).code).toBe(0);
  await source.query(`INSERT INTO public.items SELECT g, 'v' || g FROM generate_series(1, 20) g`);
  await run(false);
  await expectEqual(['id', 'v']);
}, 600_000);

afterAll(async () => {
  await source?.drop();
  await state?.drop();
  await ch?.dispose();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('gate off: kill -9 between recording a change and applying it; the restart applies it and converges', async () => {
  const w = spawnBin(WORKER_BIN, ['-flow-id', 'crashy'], env(false));
  await w.waitForStderr(/replication started/, 120_000);
  await ch.stop();
  await source.query('ALTER TABLE public.items ADD COLUMN a text, ADD COLUMN b int');
  await source.query(`INSERT INTO public.items VALUES (21, 'v21', 'a21', 21)`);
  await source.query(`UPDATE public.items SET a = 'a' || id, b = id WHERE id <= 5`);
  await w.waitForStderr(/schema change detected/, 60_000);
  await sleep(1000); // the apply is now retrying against the missing ClickHouse
  w.child.kill('SIGKILL');
  await w.exited;
  const [ev] = (await events()).filter((e) => e.kind === 'add_column');
  expect(ev!.status).toBe('approved'); // recorded, not applied
  await ch.start();
  await run(false);
  await expectEqual(['id', 'v', 'a', 'b']);
  expect((await events()).filter((e) => e.kind === 'add_column')).toEqual([expect.objectContaining({ id: ev!.id, status: 'applied' })]);
}, 300_000);

test('gate on: kill -9 while the approval workflow applies; DBOS recovers the workflow and the table resumes', async () => {
  await source.query('ALTER TABLE public.items ADD COLUMN c numeric(10,2)');
  await source.query(`INSERT INTO public.items VALUES (22, 'v22', 'a22', 22, 22.25)`);
  await source.query(`UPDATE public.items SET c = id + 0.25 WHERE id <= 3`);
  await run(true); // the table is held; the event waits
  const [ev] = (await events()).filter((e) => e.status === 'pending');
  expect(ev).toBeDefined();
  expect((await runAdmin(['ddl', 'approve', '-id', String(ev!.id)], env(true))).code).toBe(0);
  const w = spawnBin(WORKER_BIN, ['-flow-id', 'crashy'], env(true));
  await w.waitForStderr(/replication started/, 120_000);
  await ch.stop();
  expect((await runAdmin(['ddl', 'apply', '-id', String(ev!.id)], env(true))).code).toBe(0);
  await sleep(2500); // the apply step is now retrying against the missing ClickHouse
  w.child.kill('SIGKILL');
  await w.exited;
  expect((await events()).find((e) => e.id === ev!.id)!.status).toBe('approved');
  await ch.start();
  const again = spawnBin(WORKER_BIN, ['-flow-id', 'crashy'], env(true));
  try {
    await waitFor(`event ${ev!.id} applied`, async () => ((await events()).find((e) => e.id === ev!.id)!.status === 'applied' ? true : undefined));
    await sleep(3000); // release check and reread
  } finally {
    again.child.kill('SIGINT');
    await again.exited;
  }
  await run(true);
  await expectEqual(['id', 'v', 'a', 'b', 'c']);
}, 300_000);
