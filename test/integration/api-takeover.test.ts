/**
 * A server is killed with SIGKILL mid-backlog and never comes back under its executor ID (as with
 * `server@<container hostname>`); a server with another executor ID takes its PENDING run over:
 * the same run continues from its last recorded step under the new executor, no second run is
 * started, and the destination converges to the source. A dedicated worker streaming another flow
 * meanwhile is alive, so its run is left alone.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { flowClient, startApiServer, waitFor, type ApiServerProcess, type FlowClient } from '../support/api';
import { queryDuckDbFile } from '../support/duckdbFile';
import { testFlow, writeFlowFile } from '../support/flows';
import { clusterDsn, createTestDatabase, type TestDatabase } from '../support/pg';
import { spawnBin, WORKER_BIN, type SpawnedProcess } from '../support/worker';

let source: TestDatabase;
let state: TestDatabase;
let sys: Client;
let dir: string;
let server: ApiServerProcess | undefined;
let api: FlowClient | undefined;
let worker: SpawnedProcess | undefined;

function serverEnv(executor: string): NodeJS.ProcessEnv {
  return {
    DUCTSTREAM_POSTGRES_DSN: state.dsn,
    DBOS__VMID: executor,
    DUCTSTREAM_STEP_MAX_ROWS: '1000',
    DUCTSTREAM_SUPERVISOR_INTERVAL: '1',
    DUCTSTREAM_TAKEOVER_AFTER: '2',
  };
}

beforeAll(async () => {
  source = await createTestDatabase('takeover_src');
  state = await createTestDatabase('takeover_state');
  dir = mkdtempSync(join(tmpdir(), 'ductstream-takeover-'));
  await source.query('CREATE TABLE public.ledger (id bigint PRIMARY KEY, v bigint NOT NULL)');
  await source.query('CREATE TABLE public.side (id bigint PRIMARY KEY)');
});

afterAll(async () => {
  api?.close();
  await sys?.end();
  await server?.stop();
  if (worker && worker.child.exitCode === null) {
    worker.child.kill('SIGKILL');
    await worker.exited;
  }
  await source.drop();
  await state.drop();
  rmSync(dir, { recursive: true, force: true });
});

async function flowRuns(): Promise<Array<{ id: string; status: string; executor: string }>> {
  return (
    await sys.query(
      `SELECT workflow_uuid AS id, status, executor_id AS executor FROM dbos.workflow_status WHERE name = 'flowRun' AND workflow_uuid LIKE 'flowrun-ledger-%' ORDER BY created_at`,
    )
  ).rows;
}

async function checkpointAtLeast(flowId: string, lsn: string): Promise<boolean> {
  const rows = await state.query<{ ok: boolean }>(`SELECT lsn >= $2::pg_lsn AS ok FROM ductstream.checkpoints WHERE flow_id = $1`, [flowId, lsn]);
  return rows[0]?.ok === true;
}

it('a server with another executor ID takes over the run of a SIGKILLed server; the flow converges', async () => {
  const duck = join(dir, 'ledger.duckdb');
  server = await startApiServer(serverEnv('takeover-a'));
  api = flowClient(server.address);
  sys = new Client(clusterDsn(`${state.name}_dbos_sys`));
  await sys.connect();

  // A live dedicated worker streaming another flow: its run must not be taken over.
  const sideFlow = testFlow({
    id: 'side',
    sourceDsn: source.dsn,
    slot: 'side_slot',
    publication: 'side_pub',
    tables: ['public.side'],
    destinations: [{ name: 'target', type: 'duckdb', options: { dsn: join(dir, 'side.duckdb') } }],
  });
  worker = spawnBin(WORKER_BIN, ['-flow-file', writeFlowFile(dir, sideFlow)], { DUCTSTREAM_POSTGRES_DSN: state.dsn });
  await worker.waitForStderr(/flow run prepared/);

  const flow = testFlow({
    id: 'ledger',
    sourceDsn: source.dsn,
    slot: 'ledger_slot',
    publication: 'ledger_pub',
    tables: ['public.ledger'],
    sourceOptions: { batch_size: '500' },
    destinations: [{ name: 'target', type: 'duckdb', options: { dsn: duck } }],
  });
  await api.call('CreateFlow', { flow, start_immediately: true });
  const initial = await waitFor(
    'the first checkpoint',
    async () => (await state.query<{ lsn: string }>(`SELECT lsn::text AS lsn FROM ductstream.checkpoints WHERE flow_id = 'ledger'`))[0]?.lsn,
  );

  for (let t = 0; t < 100; t++) {
    const base = t * 300;
    await source.query(`BEGIN;
      INSERT INTO public.ledger SELECT g, g FROM generate_series(${base + 1}, ${base + 300}) g;
      UPDATE public.ledger SET v = v + 1000000 WHERE id % 7 = 0 AND id > ${base - 300} AND id <= ${base};
      DELETE FROM public.ledger WHERE id % 11 = 0 AND id > ${base - 300} AND id <= ${base};
      COMMIT`);
  }
  const { end_lsn: backlogEnd } = (await source.query<{ end_lsn: string }>('SELECT pg_current_wal_insert_lsn()::text AS end_lsn'))[0]!;
  await waitFor(
    'the checkpoint to move into the backlog',
    async () => {
      const [ck] = await state.query<{ moved: boolean; inside: boolean }>(
        `SELECT lsn > $1::pg_lsn AS moved, lsn < $2::pg_lsn AS inside FROM ductstream.checkpoints WHERE flow_id = 'ledger'`,
        [initial, backlogEnd],
      );
      return ck?.moved === true && ck.inside;
    },
    60_000,
    20,
  );
  await server.kill();
  api.close();

  const atKill = await flowRuns();
  expect(atKill).toEqual([{ id: expect.any(String), status: 'PENDING', executor: 'takeover-a' }]);
  const runId = atKill[0]!.id;
  const stepsAtKill = (await sys.query('SELECT count(*)::int AS n FROM dbos.operation_outputs WHERE workflow_uuid = $1', [runId])).rows[0].n as number;

  // Another server, another executor ID: executor "takeover-a" never comes back.
  server = await startApiServer(serverEnv('takeover-b'));
  api = flowClient(server.address);
  await waitFor('the checkpoint to pass the backlog', () => checkpointAtLeast('ledger', backlogEnd), 90_000);
  await server.proc.waitForStderr(/took over the runs of a gone executor .*executor=takeover-a/, 5_000);

  // The same run went on under the new executor, from its recorded steps; no second run was started.
  const after = await flowRuns();
  expect(after).toEqual([{ id: runId, status: 'PENDING', executor: 'takeover-b' }]);
  const stepsAfter = (await sys.query('SELECT count(*)::int AS n FROM dbos.operation_outputs WHERE workflow_uuid = $1', [runId])).rows[0].n as number;
  expect(stepsAfter).toBeGreaterThan(stepsAtKill);
  const prepares = await sys.query(`SELECT 1 FROM dbos.operation_outputs WHERE workflow_uuid = $1 AND function_name = 'prepareSource'`, [runId]);
  expect(prepares.rowCount).toBe(1);

  // The live worker's run was left alone.
  expect(server.proc.output().stderr).not.toMatch(/took over .*executor=worker-side/);
  const side = await sys.query(`SELECT status, executor_id FROM dbos.workflow_status WHERE name = 'flowRun' AND workflow_uuid LIKE 'flowrun-side-%'`);
  expect(side.rows).toEqual([{ status: 'PENDING', executor_id: expect.stringMatching(/^worker-side@/) }]);
  await source.query('INSERT INTO public.side VALUES (1), (2)');
  const { lsn: sideEnd } = (await source.query<{ lsn: string }>('SELECT pg_current_wal_insert_lsn()::text AS lsn'))[0]!;
  await waitFor('the worker to deliver', () => checkpointAtLeast('side', sideEnd));

  await api.call('PauseFlow', { flow_id: 'ledger' });
  await waitFor('the run to end', async () => (await flowRuns()).every((r) => r.status === 'SUCCESS'));
  const src = await source.query<{ id: string; v: string }>('SELECT id::text AS id, v::text AS v FROM public.ledger ORDER BY id');
  const dst = await queryDuckDbFile(duck, 'SELECT id::VARCHAR AS id, v::VARCHAR AS v FROM public.ledger ORDER BY id');
  expect(dst.length).toBe(src.length);
  expect(dst).toEqual(src);
  worker.child.kill('SIGTERM');
  expect((await worker.exited).code).toBe(0);
  expect(await queryDuckDbFile(join(dir, 'side.duckdb'), 'SELECT id::INTEGER AS id FROM public.side ORDER BY id')).toEqual([{ id: 1 }, { id: 2 }]);
});
