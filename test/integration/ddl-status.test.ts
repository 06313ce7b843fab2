/**
 * The operations view of a held table (DUCTSTREAM_DDL_GATE=true): while a running flow holds a
 * table at a schema change, `ductstream-admin flow status` shows the state `pending_ddl`, the
 * `ddl_held` alarm naming the table and what to do, and the event under pending DDL; once the
 * event is approved and applied the flow is `running` again without the alarm, and the table's
 * rows read back equal to the source.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { adminJson, runAdmin } from '../support/admin';
import { queryDuckDbFile } from '../support/duckdbFile';
import { testFlow, writeFlowFile } from '../support/flows';
import { createTestDatabase, type TestDatabase } from '../support/pg';
import { runWorker, spawnBin, WORKER_BIN, type SpawnedProcess } from '../support/worker';

let source: TestDatabase;
let state: TestDatabase;
let dir: string;
let duck: string;
let worker: SpawnedProcess | undefined;

interface StatusJson {
  state: string;
  reason: string;
  alarms: Array<{ kind: string; message: string }>;
  pending_ddl: Array<{ id: string; table: string; status: string; ddl: string }>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const env = (): NodeJS.ProcessEnv => ({ DUCTSTREAM_POSTGRES_DSN: state.dsn, DUCTSTREAM_DDL_GATE: 'true' });
const status = (): Promise<StatusJson> => adminJson<StatusJson>(['flow', 'status', '-flow-id', 'watched'], env());

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(300);
  }
}

beforeAll(async () => {
  source = await createTestDatabase('ddl_status_src');
  state = await createTestDatabase('ddl_status_state');
  dir = mkdtempSync(join(tmpdir(), 'ductstream-ddl-status-'));
  duck = join(dir, 'watched.duckdb');
  await source.query('CREATE TABLE public.items (id int PRIMARY KEY, v text)');
  const flowFile = writeFlowFile(
    dir,
    testFlow({
      id: 'watched',
      sourceDsn: source.dsn,
      slot: 'watched_slot',
      publication: 'watched_pub',
      tables: ['public.items'],
      destinations: [{ name: 'warehouse', type: 'duckdb', options: { dsn: duck } }],
    }),
  );
  expect((await runWorker(['-flow-file', flowFile, '-max-empty-reads', '1'], env())).code).toBe(0);
  await source.query(`INSERT INTO public.items SELECT g, 'v' || g FROM generate_series(1, 10) g`);
});

afterAll(async () => {
  if (worker) {
    worker.child.kill('SIGKILL');
    await worker.exited;
  }
  await source.drop();
  await state.drop();
  rmSync(dir, { recursive: true, force: true });
});

test('a held table shows as pending_ddl with the ddl_held alarm, and clears once applied', async () => {
  worker = spawnBin(WORKER_BIN, ['-flow-id', 'watched'], env());
  await worker.waitForStderr(/replication started/);
  await waitFor('running', async () => ((await status()).state === 'running' ? true : undefined));
  await source.query('ALTER TABLE public.items ADD COLUMN w text');
  await source.query(`INSERT INTO public.items VALUES (11, 'v11', 'w11')`);
  const held = await waitFor('pending_ddl', async () => {
    const s = await status();
    return s.state === 'pending_ddl' ? s : undefined;
  });
  const [ev] = held.pending_ddl;
  expect(ev).toMatchObject({ table: 'public.items', status: 'pending', ddl: 'add_column' });
  expect(held.reason).toBe(`public.items held at a schema change (DDL event ${ev!.id}: pending)`);
  const alarm = held.alarms.find((a) => a.kind === 'ddl_held');
  expect(alarm?.message).toMatch(new RegExp(`^table public.items is held at [0-9A-F]+/[0-9A-F]+ by DDL event ${ev!.id} \\(add_column, pending\\): approve it`));
  const text = await runAdmin(['flow', 'status', '-flow-id', 'watched'], env());
  expect(text.stdout).toContain('pending_ddl');
  expect(text.stdout).toContain(`ALARM ddl_held: table public.items is held`);

  expect((await runAdmin(['ddl', 'approve', '-id', ev!.id], env())).code).toBe(0);
  const approved = await waitFor('approved', async () => {
    const s = await status();
    return s.pending_ddl[0]?.status === 'approved' ? s : undefined;
  });
  expect(approved.alarms.find((a) => a.kind === 'ddl_held')?.message).toContain(`apply it: ductstream-admin ddl apply -id ${ev!.id}`);
  expect((await runAdmin(['ddl', 'apply', '-id', ev!.id], env())).code).toBe(0);
  const clear = await waitFor('cleared', async () => {
    const s = await status();
    return s.state === 'running' && s.pending_ddl.length === 0 ? s : undefined;
  });
  expect(clear.alarms.map((a) => a.kind)).not.toContain('ddl_held');
  await sleep(3000); // release check and reread
  worker.child.kill('SIGINT');
  await worker.exited;
  worker = undefined;
  expect((await runWorker(['-flow-id', 'watched', '-max-empty-reads', '1'], env())).code).toBe(0);
  const src = await source.query(`SELECT id::text AS id, v, w FROM public.items ORDER BY id`);
  const dst = await queryDuckDbFile(duck, `SELECT id::VARCHAR AS id, v, w FROM public.items ORDER BY id`);
  expect(dst).toEqual(src);
}, 300_000); // a dozen admin CLI processes and two workers: minutes on a loaded 2-core machine
