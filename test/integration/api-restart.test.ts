/**
 * A server killed with SIGKILL in the middle of a run comes back (same executor ID) and DBOS
 * recovers that same run: the steps it completed are not executed again (their recorded outputs
 * stay as they were; the source is not prepared twice), it continues from its last step, no second
 * run of the flow is started, and the destination converges to the source.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { flowClient, startApiServer, waitFor, type ApiServerProcess, type FlowClient } from '../support/api';
import { queryDuckDbFile } from '../support/duckdbFile';
import { testFlow } from '../support/flows';
import { clusterDsn, createTestDatabase, type TestDatabase } from '../support/pg';

let source: TestDatabase;
let state: TestDatabase;
let sys: Client;
let dir: string;
let server: ApiServerProcess;
let api: FlowClient;

const SERVER_ID = 'api-restart-test';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function serverEnv(): NodeJS.ProcessEnv {
  return { DUCTSTREAM_POSTGRES_DSN: state.dsn, DBOS__VMID: SERVER_ID, DUCTSTREAM_STEP_MAX_ROWS: '1000', DUCTSTREAM_SUPERVISOR_INTERVAL: '1' };
}

beforeAll(async () => {
  source = await createTestDatabase('api_restart_src');
  state = await createTestDatabase('api_restart_state');
  dir = mkdtempSync(join(tmpdir(), 'ductstream-api-restart-'));
  await source.query('CREATE TABLE public.ledger (id bigint PRIMARY KEY, v bigint NOT NULL, note text)');
  server = await startApiServer(serverEnv());
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

interface StepRow {
  function_id: number;
  function_name: string;
  output: string | null;
}

async function steps(runId: string): Promise<StepRow[]> {
  return (
    await sys.query<StepRow>('SELECT function_id, function_name, output FROM dbos.operation_outputs WHERE workflow_uuid = $1 ORDER BY function_id', [runId])
  ).rows;
}

async function flowRuns(): Promise<Array<{ workflow_uuid: string; status: string }>> {
  return (await sys.query(`SELECT workflow_uuid, status FROM dbos.workflow_status WHERE name = 'flowRun' ORDER BY created_at`)).rows;
}

async function checkpoint(): Promise<string | undefined> {
  return (await state.query<{ lsn: string }>(`SELECT lsn::text AS lsn FROM ductstream.checkpoints WHERE flow_id = 'restart'`))[0]?.lsn;
}

it('resumes the interrupted run from its last step after kill -9 and converges', async () => {
  const duck = join(dir, 'target.duckdb');
  const flow = testFlow({
    id: 'restart',
    sourceDsn: source.dsn,
    slot: 'restart_slot',
    publication: 'restart_pub',
    tables: ['public.ledger'],
    sourceOptions: { batch_size: '500' },
    destinations: [{ name: 'target', type: 'duckdb', options: { dsn: duck } }],
  });
  await api.call('CreateFlow', { flow, start_immediately: true });
  await waitFor('the slot', async () => (await source.query(`SELECT 1 FROM pg_replication_slots WHERE slot_name = 'restart_slot'`)).length > 0);
  const initial = await waitFor('the first checkpoint', checkpoint);

  // A backlog of 150 transactions: inserts, updates of earlier rows, deletes.
  for (let t = 0; t < 150; t++) {
    const base = t * 300;
    await source.query(`BEGIN;
      INSERT INTO public.ledger SELECT g, g, 'n' || g FROM generate_series(${base + 1}, ${base + 300}) g;
      UPDATE public.ledger SET v = v + 1000000 WHERE id % 7 = 0 AND id > ${base - 300} AND id <= ${base};
      DELETE FROM public.ledger WHERE id % 11 = 0 AND id > ${base - 300} AND id <= ${base};
      COMMIT`);
  }
  const { end_lsn: backlogEnd } = (await source.query<{ end_lsn: string }>('SELECT pg_current_wal_insert_lsn()::text AS end_lsn'))[0]!;

  // Kill as soon as the checkpoint has moved twice but is still inside the backlog.
  const seen = new Set<string>();
  let killedAt = '';
  for (let i = 0; i < 1500 && !killedAt; i++) {
    const ck = (await checkpoint())!;
    if (ck !== initial) seen.add(ck);
    const { inside } = (await source.query<{ inside: boolean }>('SELECT $1::pg_lsn < $2::pg_lsn AS inside', [ck, backlogEnd]))[0]!;
    if (seen.size >= 2 && inside) killedAt = ck;
    else await sleep(10);
  }
  expect(killedAt).not.toBe('');
  await server.kill();
  const runsAtKill = await flowRuns();
  expect(runsAtKill).toHaveLength(1);
  const runId = runsAtKill[0]!.workflow_uuid;
  expect(runsAtKill[0]!.status).toBe('PENDING');
  const before = await steps(runId);
  expect(before.filter((s) => s.function_name === 'deliverBatch').length).toBeGreaterThanOrEqual(2);

  server = await startApiServer(serverEnv());
  api.close();
  api = flowClient(server.address);
  await waitFor(
    'the checkpoint to pass the backlog',
    async () => {
      const rows = await state.query<{ ok: boolean }>(`SELECT lsn >= $1::pg_lsn AS ok FROM ductstream.checkpoints WHERE flow_id = 'restart'`, [backlogEnd]);
      return rows[0]?.ok === true;
    },
    60_000,
  );

  // The same run went on: its recorded steps are untouched, new ones follow, nothing was prepared again.
  const after = await steps(runId);
  expect(after.length).toBeGreaterThan(before.length);
  expect(after.slice(0, before.length)).toEqual(before);
  expect(after.filter((s) => s.function_name === 'prepareSource')).toHaveLength(1);
  expect(server.proc.output().stderr).not.toMatch(/flow run prepared/);
  expect((await flowRuns()).map((r) => r.workflow_uuid)).toEqual([runId]);
  const listed = await api.call<{ runs: Array<{ run_id: string; status: string; executor_id: string }> }>('ListFlowRuns', { flow_id: 'restart' });
  expect(listed.runs).toEqual([expect.objectContaining({ run_id: runId, status: 'PENDING', executor_id: SERVER_ID })]);

  await api.call('PauseFlow', { flow_id: 'restart' });
  await waitFor('the run to end', async () => (await flowRuns()).every((r) => r.status === 'SUCCESS'));
  const src = await source.query<{ id: string; v: string }>('SELECT id::text AS id, v::text AS v FROM public.ledger ORDER BY id');
  const dst = await queryDuckDbFile(duck, 'SELECT id::VARCHAR AS id, v::VARCHAR AS v FROM public.ledger ORDER BY id');
  expect(dst.length).toBe(src.length);
  expect(dst).toEqual(src);
});

it('on SIGTERM ends the run after its batch and exits 0; the next start streams the running flow again', async () => {
  expect((await api.call<{ state: string }>('ResumeFlow', { flow_id: 'restart' })).state).toBe('running');
  await waitFor('a streaming run', async () => (await flowRuns()).some((r) => r.status === 'PENDING'));
  const runsBefore = (await flowRuns()).length;
  await source.query(`INSERT INTO public.ledger SELECT g, g, 'late' FROM generate_series(100001, 101000) g`);
  const started = Date.now();
  server.proc.child.kill('SIGTERM');
  const exit = await server.proc.exited;
  expect(exit.code).toBe(0);
  expect(Date.now() - started).toBeLessThan(20_000);
  const [last] = (await flowRuns()).slice(-1);
  expect(last!.status).toBe('SUCCESS');

  server = await startApiServer(serverEnv());
  api.close();
  api = flowClient(server.address);
  await waitFor(
    'a new streaming run',
    async () => (await flowRuns()).length === runsBefore + 1 && (await flowRuns()).some((r) => r.status === 'PENDING'),
    20_000,
  );
  const listed = await api.call<{ runs: Array<{ run_id: string; end: string }> }>('ListFlowRuns', { flow_id: 'restart' });
  expect(listed.runs.find((r) => r.run_id === last!.workflow_uuid)?.end).toBe('signal');
  // A position before the commit record of the last change: the checkpoint passes it once that change is delivered.
  await source.query('BEGIN');
  await source.query(`INSERT INTO public.ledger VALUES (200000, 1, 'after restart')`);
  const { lsn } = (await source.query<{ lsn: string }>('SELECT pg_current_wal_insert_lsn()::text AS lsn'))[0]!;
  await source.query('COMMIT');
  await waitFor(
    'the checkpoint after the restart',
    async () => {
      const rows = await state.query<{ ok: boolean }>(`SELECT lsn >= $1::pg_lsn AS ok FROM ductstream.checkpoints WHERE flow_id = 'restart'`, [lsn]);
      return rows[0]?.ok === true;
    },
    30_000,
  );
  await api.call('PauseFlow', { flow_id: 'restart' });
  await waitFor('the run to end', async () => (await flowRuns()).every((r) => r.status === 'SUCCESS'));
  const src = await source.query<{ id: string; v: string }>('SELECT id::text AS id, v::text AS v FROM public.ledger ORDER BY id');
  const dst = await queryDuckDbFile(join(dir, 'target.duckdb'), 'SELECT id::VARCHAR AS id, v::VARCHAR AS v FROM public.ledger ORDER BY id');
  expect(dst).toEqual(src);
});
