/**
 * Source outage: the source PostgreSQL (a private cluster of this test, not the shared one) is shut
 * down for two minutes in the middle of a stream — longer than the old ~64 s of step retries — and
 * started again. A dedicated worker's flow and a server's flow both stay `running` with
 * `retrying: <reason>` (GetFlow, ListFlows, the worker's progress lines and logs), then continue by
 * themselves and converge: every change committed before, during the shutdown and after the
 * restart is in their DuckDB tables, none lost.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { startLocalCluster, type LocalCluster } from '../../tools/localpg';
import { flowClient, startApiServer, waitFor, type ApiServerProcess, type FlowClient } from '../support/api';
import { queryDuckDbFile } from '../support/duckdbFile';
import { testFlow, writeFlowFile } from '../support/flows';
import { createTestDatabase, type TestDatabase } from '../support/pg';
import { spawnBin, WORKER_BIN, type SpawnedProcess } from '../support/worker';

const OUTAGE_MS = 120_000;
jest.setTimeout(OUTAGE_MS + 240_000);

let cluster: LocalCluster;
let src: Client;
let state: TestDatabase;
let dir: string;
let server: ApiServerProcess | undefined;
let api: FlowClient | undefined;
let worker: SpawnedProcess | undefined;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  cluster = await startLocalCluster();
  const admin = new Client(cluster.dsn());
  await admin.connect();
  await admin.query('CREATE DATABASE app');
  await admin.end();
  src = new Client(cluster.dsn('app'));
  await src.connect();
  await src.query('CREATE TABLE public.events (id bigint PRIMARY KEY, v text NOT NULL)');
  state = await createTestDatabase('outage_src_state');
  dir = mkdtempSync(join(tmpdir(), 'ductstream-outage-src-'));
});

afterAll(async () => {
  api?.close();
  await server?.stop();
  if (worker && worker.child.exitCode === null) {
    worker.child.kill('SIGKILL');
    await worker.exited;
  }
  await src?.end().catch(() => undefined);
  await cluster?.stop().catch(() => undefined);
  await state.drop();
  rmSync(dir, { recursive: true, force: true });
});

function flow(id: string): Record<string, unknown> {
  return testFlow({
    id,
    sourceDsn: cluster.dsn('app'),
    slot: id.replace(/-/g, '_'),
    publication: `${id.replace(/-/g, '_')}_pub`,
    tables: ['public.events'],
    destinations: [{ name: 'target', type: 'duckdb', options: { dsn: join(dir, `${id}.duckdb`) } }],
  });
}

async function walPosition(): Promise<string> {
  return (await src.query<{ lsn: string }>('SELECT pg_current_wal_insert_lsn()::text AS lsn')).rows[0]!.lsn;
}

async function checkpointAtLeast(flowId: string, lsn: string): Promise<boolean> {
  const rows = await state.query<{ ok: boolean }>('SELECT lsn >= $2::pg_lsn AS ok FROM ductstream.checkpoints WHERE flow_id = $1', [flowId, lsn]);
  return rows[0]?.ok === true;
}

interface FlowMsg {
  id: string;
  state: string;
  state_reason: string;
}

it('worker and server flows retry through a two-minute source shutdown and converge with nothing lost', async () => {
  const env = {
    DUCTSTREAM_POSTGRES_DSN: state.dsn,
    DUCTSTREAM_PROGRESS_INTERVAL: '1',
    DUCTSTREAM_RETRY_MAX_BACKOFF: '5',
    DUCTSTREAM_SUPERVISOR_INTERVAL: '1',
  };
  worker = spawnBin(WORKER_BIN, ['-flow-file', writeFlowFile(dir, flow('src-out-w'))], { ...env, DBOS__VMID: 'outage-src-worker' });
  await worker.waitForStderr(/flow run prepared/);
  server = await startApiServer({ ...env, DBOS__VMID: 'outage-src-server' });
  api = flowClient(server.address);
  await api.call('CreateFlow', { flow: flow('src-out-s'), start_immediately: true });
  await waitFor('the server flow to start', async () => (await state.query(`SELECT 1 FROM ductstream.checkpoints WHERE flow_id = 'src-out-s'`)).length > 0);

  await src.query(`INSERT INTO public.events SELECT g, 'before' FROM generate_series(1, 2000) g`);
  const before = await walPosition();
  for (const id of ['src-out-w', 'src-out-s']) await waitFor(`${id} to deliver`, () => checkpointAtLeast(id, before), 60_000);

  // Changes committed right before the shutdown may be in flight when the server goes away.
  await src.query(
    `BEGIN; INSERT INTO public.events SELECT g, 'last before' FROM generate_series(2001, 3000) g; UPDATE public.events SET v = 'updated' WHERE id <= 100; COMMIT`,
  );
  const shutdownAt = Date.now();
  await src.end();
  await cluster.shutdown();

  // Both flows stay running and say why they are not moving, everywhere they are shown.
  for (const id of ['src-out-w', 'src-out-s']) {
    await waitFor(
      `${id} to show retrying`,
      async () => {
        const f = await api!.call<FlowMsg>('GetFlow', { flow_id: id });
        return f.state === 'running' && /^retrying: /.test(f.state_reason) && f;
      },
      30_000,
    );
  }
  const listed = await api.call<{ flows: FlowMsg[] }>('ListFlows', {});
  expect(listed.flows.map((f) => [f.id, f.state, f.state_reason.slice(0, 10)])).toEqual([
    ['src-out-s', 'running', 'retrying: '],
    ['src-out-w', 'running', 'retrying: '],
  ]);
  await worker.waitForStderr(/INFO +progress .*status="retrying: [^"]*(cannot connect|connection|terminat)/i, 30_000);
  await worker.waitForStderr(/WARN +retrying: .*attempt=\d+/, 5_000);
  expect(server.proc.output().stderr).toMatch(/WARN +retrying: .*flow=src-out-s/);

  await sleep(Math.max(0, shutdownAt + OUTAGE_MS - Date.now()));
  // Two minutes later nothing has failed: the old bounded retries would have marked both flows failed by now.
  for (const id of ['src-out-w', 'src-out-s']) expect((await api.call<FlowMsg>('GetFlow', { flow_id: id })).state).toBe('running');
  expect(worker.child.exitCode).toBeNull();

  await cluster.restart();
  src = new Client(cluster.dsn('app'));
  await src.connect();
  await src.query(`BEGIN; INSERT INTO public.events SELECT g, 'after' FROM generate_series(3001, 4000) g; DELETE FROM public.events WHERE id % 10 = 0; COMMIT`);
  const end = await walPosition();
  for (const id of ['src-out-w', 'src-out-s']) await waitFor(`${id} to catch up after the restart`, () => checkpointAtLeast(id, end), 90_000);
  for (const id of ['src-out-w', 'src-out-s']) {
    await waitFor(`${id} to clear its retrying note`, async () => {
      const f = await api!.call<FlowMsg>('GetFlow', { flow_id: id });
      return f.state === 'running' && f.state_reason === '';
    });
  }
  expect(worker.output().stderr).toMatch(/recovered: the step succeeded after retrying/);

  worker.child.kill('SIGTERM');
  expect((await worker.exited).code).toBe(0);
  await api.call('PauseFlow', { flow_id: 'src-out-s' });

  const expected = (await src.query<{ id: string; v: string }>('SELECT id::text AS id, v FROM public.events ORDER BY id')).rows;
  expect(expected.length).toBe(3600);
  for (const id of ['src-out-w', 'src-out-s']) {
    // The server's run releases the file once the pause reaches it.
    const got = await waitFor(`${id}'s DuckDB file`, () =>
      queryDuckDbFile(join(dir, `${id}.duckdb`), 'SELECT id::VARCHAR AS id, v FROM public.events ORDER BY id').catch(() => null),
    );
    expect(got).toEqual(expected);
  }
});
