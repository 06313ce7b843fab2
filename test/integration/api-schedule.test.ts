/**
 * DUCTSTREAM_DBOS_SCHEDULE through the real server: every 2 s a scheduled workflow enqueues one
 * run (ending after an empty read) per running flow; paused and created flows are skipped; two
 * runs of one flow never overlap (sampled in the DBOS system database while it runs); a flow a
 * dedicated ductstream-worker is running gets no queued run until the worker exits; removing the
 * variable removes the schedule.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { flowClient, startApiServer, waitFor, type ApiServerProcess, type FlowClient } from '../support/api';
import { queryDuckDbFile } from '../support/duckdbFile';
import { testFlow, writeFlowFile } from '../support/flows';
import { clusterDsn, createTestDatabase, type TestDatabase } from '../support/pg';
import { spawnBin, WORKER_BIN } from '../support/worker';

let source: TestDatabase;
let state: TestDatabase;
let sys: Client;
let dir: string;
let server: ApiServerProcess;
let api: FlowClient;

const SERVER_ID = 'api-schedule-test';
const TABLES = ['ran', 'paused', 'idle', 'worked'];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface ActiveRow {
  workflow_uuid: string;
  status: string;
  executor_id: string;
}
interface RunRow {
  workflow_uuid: string;
  status: string;
  executor_id: string;
  created_at: string;
  updated_at: string;
  output: string | null;
}

beforeAll(async () => {
  source = await createTestDatabase('api_sched_src');
  state = await createTestDatabase('api_sched_state');
  dir = mkdtempSync(join(tmpdir(), 'ductstream-api-sched-'));
  for (const t of TABLES) await source.query(`CREATE TABLE public.${t} (id bigint PRIMARY KEY, v text NOT NULL)`);
  server = await startApiServer({ DUCTSTREAM_POSTGRES_DSN: state.dsn, DBOS__VMID: SERVER_ID, DUCTSTREAM_DBOS_SCHEDULE: '*/2 * * * * *' });
  api = flowClient(server.address);
  sys = new Client(clusterDsn(`${state.name}_dbos_sys`));
  await sys.connect();
});

afterAll(async () => {
  api?.close();
  await sys?.end();
  await server?.stop();
  await source.drop();
  await state.drop();
  rmSync(dir, { recursive: true, force: true });
});

function flowOf(table: string): Record<string, unknown> {
  return testFlow({
    id: `s-${table}`,
    sourceDsn: source.dsn,
    slot: `s_${table}_slot`,
    publication: `s_${table}_pub`,
    tables: [`public.${table}`],
    destinations: [{ name: 'wh', type: 'duckdb', options: { dsn: join(dir, `${table}.duckdb`) } }],
  });
}

/** Every flowRun workflow of a flow, oldest first, from the DBOS system database. */
async function runRows(flowId: string): Promise<RunRow[]> {
  const r = await sys.query<RunRow>(
    `SELECT workflow_uuid, status, executor_id, created_at::text, updated_at::text, output FROM dbos.workflow_status WHERE name = 'flowRun' AND workflow_uuid ~ $1 ORDER BY created_at`,
    [`^flowrun-${flowId}-\\d+(~\\d+)?$`],
  );
  return r.rows;
}

async function slotExists(table: string): Promise<boolean> {
  return (await source.query(`SELECT 1 FROM pg_replication_slots WHERE slot_name = $1`, [`s_${table}_slot`])).length > 0;
}

const insert = (table: string, from: number, to: number) =>
  source.query(`INSERT INTO public.${table} SELECT g, 'v' || g FROM generate_series($1::int, $2::int) g`, [from, to]);

it('runs running flows on every firing, skips paused and created ones, never overlaps runs of one flow', async () => {
  await api.call('CreateFlow', { flow: flowOf('ran'), start_immediately: true });
  await api.call('CreateFlow', { flow: flowOf('paused'), start_immediately: true });
  await api.call('CreateFlow', { flow: flowOf('idle') });
  await waitFor('both slots', async () => (await slotExists('ran')) && (await slotExists('paused')));
  await api.call('PauseFlow', { flow_id: 's-paused' });
  await waitFor('the paused flow to have no active run', async () => (await runRows('s-paused')).every((r) => !['PENDING', 'ENQUEUED'].includes(r.status)));
  const pausedRuns = (await runRows('s-paused')).length;

  // Sample the active runs of every flow while the schedule fires about 5 times (longer on a loaded
  // machine, where a run can outlast a firing: until the flow has run 4 times, at most a minute).
  let samples = 0;
  let overlaps = 0;
  let inserted = 0;
  const started = Date.now();
  const enough = async (): Promise<boolean> => Date.now() - started >= 10_000 && (Date.now() - started >= 60_000 || (await runRows('s-ran')).length >= 4);
  while (!(samples % 10 === 9 && (await enough()))) {
    if (samples % 10 === 0) {
      await insert('ran', inserted + 1, inserted + 100);
      await insert('paused', inserted + 1, inserted + 100);
      inserted += 100;
    }
    const active = await sys.query<ActiveRow>(
      `SELECT workflow_uuid, status, executor_id FROM dbos.workflow_status WHERE name = 'flowRun' AND status IN ('PENDING', 'ENQUEUED')`,
    );
    const perFlow = new Map<string, number>();
    for (const a of active.rows) {
      const flow = /^flowrun-(.+)-\d+(~\d+)?$/.exec(a.workflow_uuid)![1]!;
      perFlow.set(flow, (perFlow.get(flow) ?? 0) + 1);
    }
    if ([...perFlow.values()].some((n) => n > 1)) overlaps++;
    samples++;
    await sleep(100);
  }
  expect(samples).toBeGreaterThan(50);
  expect(overlaps).toBe(0);

  const ran = await runRows('s-ran');
  // StartFlow enqueued one run; then every firing found the flow idle and enqueued another.
  expect(ran.length).toBeGreaterThanOrEqual(4);
  for (const r of ran.filter((x) => x.status !== 'PENDING' && x.status !== 'ENQUEUED')) {
    expect(r.status).toBe('SUCCESS');
    expect(r.executor_id).toBe(SERVER_ID);
  }
  // Runs of the schedule carry the slot time (whole even seconds) in their IDs.
  const slotted = ran.map((r) => Number(/-(\d+)$/.exec(r.workflow_uuid)![1])).filter((ms) => ms % 2000 === 0);
  expect(slotted.length).toBeGreaterThanOrEqual(3);
  // One after the other: a run is enqueued only after the previous one ended.
  for (let i = 1; i < ran.length; i++) expect(Number(ran[i]!.created_at)).toBeGreaterThanOrEqual(Number(ran[i - 1]!.updated_at));

  expect((await runRows('s-paused')).length).toBe(pausedRuns);
  expect(await runRows('s-idle')).toHaveLength(0);
  expect(await slotExists('idle')).toBe(false);

  // The schedule delivered the rows: once a run enqueued after the last insert has ended, pause and compare.
  const lastInsert = Date.now();
  await waitFor(
    'a run after the last insert',
    async () => (await runRows('s-ran')).some((r) => Number(r.created_at) > lastInsert && r.status === 'SUCCESS'),
    20_000,
  );
  await api.call('PauseFlow', { flow_id: 's-ran' });
  await waitFor('the last run of s-ran to end', async () => (await runRows('s-ran')).every((r) => !['PENDING', 'ENQUEUED'].includes(r.status)));
  const rows = await queryDuckDbFile(join(dir, 'ran.duckdb'), 'SELECT count(*)::INTEGER AS n, min(id)::INTEGER AS lo, max(id)::INTEGER AS hi FROM public.ran');
  expect(rows).toEqual([{ n: inserted, lo: 1, hi: inserted }]);
});

it('skips a flow that a dedicated worker is running, and takes it over once the worker exits', async () => {
  const file = writeFlowFile(dir, flowOf('worked'));
  const worker = spawnBin(WORKER_BIN, ['-flow-file', file], { DUCTSTREAM_POSTGRES_DSN: state.dsn, DBOS__VMID: '' });
  try {
    await worker.waitForStderr(/replication started/, 60_000);
    await insert('worked', 1, 300);
    await sleep(5000); // two or three firings
    const during = await runRows('s-worked');
    expect(during.length).toBeGreaterThanOrEqual(1);
    expect(during.every((r) => r.executor_id.startsWith('worker-s-worked@'))).toBe(true);
    // The worker dequeued nothing of the server's queue.
    const foreign = await sys.query(`SELECT workflow_uuid FROM dbos.workflow_status WHERE queue_name = 'ductstream' AND executor_id LIKE 'worker-%'`);
    expect(foreign.rows).toEqual([]);
  } finally {
    worker.child.kill('SIGINT');
    expect((await worker.exited).code).toBe(0);
  }
  // The flow is still in state running: the next firings run it on the server.
  await insert('worked', 301, 400);
  const afterInsert = Date.now();
  const taken = await waitFor(
    'a scheduled run of s-worked',
    async () => (await runRows('s-worked')).find((r) => r.executor_id === SERVER_ID && r.status === 'SUCCESS' && Number(r.created_at) > afterInsert),
    20_000,
  );
  expect(taken.workflow_uuid).toMatch(/^flowrun-s-worked-\d+$/);
  await api.call('StopFlow', { flow_id: 's-worked' });
  await waitFor('the runs of s-worked to end', async () => (await runRows('s-worked')).every((r) => !['PENDING', 'ENQUEUED'].includes(r.status)));
  const rows = await queryDuckDbFile(join(dir, 'worked.duckdb'), 'SELECT count(*)::INTEGER AS n FROM public.worked');
  expect(rows).toEqual([{ n: 400 }]);
});

it('a server started without DUCTSTREAM_DBOS_SCHEDULE removes the schedule', async () => {
  const before = await sys.query(`SELECT schedule_name, schedule FROM dbos.workflow_schedules`);
  expect(before.rows).toEqual([{ schedule_name: 'ductstream-flow-runs', schedule: '*/2 * * * * *' }]);
  await server.stop();
  server = await startApiServer({ DUCTSTREAM_POSTGRES_DSN: state.dsn, DBOS__VMID: SERVER_ID, DUCTSTREAM_DBOS_ENABLED: 'true' });
  expect((await sys.query(`SELECT schedule_name FROM dbos.workflow_schedules`)).rows).toEqual([]);
});
