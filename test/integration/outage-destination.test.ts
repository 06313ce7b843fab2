/**
 * Destination outage: for two minutes a server's flow finds its webhook peer down (503s and reset
 * connections) and a dedicated worker's flow finds the PostgreSQL that holds its pgstream
 * destination shut down (a private cluster of this test). Both stay `running` with
 * `retrying: <reason>`, then deliver everything once the peers are back: the last record per key
 * at each destination equals the source table, none lost.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { startLocalCluster, type LocalCluster } from '../../tools/localpg';
import { flowClient, startApiServer, waitFor, type ApiServerProcess, type FlowClient } from '../support/api';
import { testFlow, writeFlowFile } from '../support/flows';
import { createTestDatabase, type TestDatabase } from '../support/pg';
import { startHttpPeer, type HttpPeer } from '../support/peers/httpPeer';
import { spawnBin, WORKER_BIN, type SpawnedProcess } from '../support/worker';

const OUTAGE_MS = 120_000;
jest.setTimeout(OUTAGE_MS + 240_000);

let cluster: LocalCluster;
let source: TestDatabase;
let state: TestDatabase;
let peer: HttpPeer;
let dir: string;
let server: ApiServerProcess | undefined;
let api: FlowClient | undefined;
let worker: SpawnedProcess | undefined;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  cluster = await startLocalCluster();
  const admin = new Client(cluster.dsn());
  await admin.connect();
  await admin.query('CREATE DATABASE streams');
  await admin.end();
  source = await createTestDatabase('outage_dst_src');
  state = await createTestDatabase('outage_dst_state');
  await source.query('CREATE TABLE public.events (id bigint PRIMARY KEY, v text NOT NULL)');
  peer = await startHttpPeer();
  dir = mkdtempSync(join(tmpdir(), 'ductstream-outage-dst-'));
});

afterAll(async () => {
  api?.close();
  await server?.stop();
  if (worker && worker.child.exitCode === null) {
    worker.child.kill('SIGKILL');
    await worker.exited;
  }
  await peer?.close();
  await cluster?.stop().catch(() => undefined);
  await source.drop();
  await state.drop();
  rmSync(dir, { recursive: true, force: true });
});

function flow(id: string, destination: { name: string; type: string; options: Record<string, string> }): Record<string, unknown> {
  const name = id.replace(/-/g, '_');
  return testFlow({ id, sourceDsn: source.dsn, slot: name, publication: `${name}_pub`, tables: ['public.events'], destinations: [destination] });
}

async function checkpointAtLeast(flowId: string, lsn: string): Promise<boolean> {
  const rows = await state.query<{ ok: boolean }>('SELECT lsn >= $2::pg_lsn AS ok FROM ductstream.checkpoints WHERE flow_id = $1', [flowId, lsn]);
  return rows[0]?.ok === true;
}

async function walPosition(): Promise<string> {
  return (await source.query<{ lsn: string }>('SELECT pg_current_wal_insert_lsn()::text AS lsn'))[0]!.lsn;
}

/** What a compacting consumer of the webhook keeps: the last delivered change per key. */
function webhookRows(): Array<{ id: string; v: string }> {
  const last = new Map<string, { op: string; v: string }>();
  for (const r of peer.delivered('/hook')) {
    const body = JSON.parse(r.body.toString()) as { op: string; key: { id: string }; after?: { v: string } };
    last.set(String(body.key.id), { op: body.op, v: body.after?.v ?? '' });
  }
  return [...last.entries()]
    .filter(([, c]) => c.op !== 'delete')
    .map(([id, c]) => ({ id, v: c.v }))
    .sort((a, b) => Number(a.id) - Number(b.id));
}

/** The same from the pgstream destination: the last event per key, in stream order. */
async function streamRows(): Promise<Array<{ id: string; v: string }>> {
  const c = new Client(cluster.dsn('streams'));
  await c.connect();
  try {
    const r = await c.query<{ id: string; v: string }>(`
      SELECT k AS id, v FROM (
        SELECT DISTINCT ON (e.key->>'id') e.key->>'id' AS k, e.op, convert_from(e.payload, 'UTF8')::jsonb->'after'->>'v' AS v
        FROM ductstream_stream.events e ORDER BY e.key->>'id', e.id DESC) last
      WHERE op <> 'delete' ORDER BY k::bigint`);
    return r.rows;
  } finally {
    await c.end();
  }
}

interface FlowMsg {
  id: string;
  state: string;
  state_reason: string;
}

it('a webhook peer and a pgstream database down for two minutes: both flows retry, then deliver everything', async () => {
  const env = {
    DUCTSTREAM_POSTGRES_DSN: state.dsn,
    DUCTSTREAM_PROGRESS_INTERVAL: '1',
    DUCTSTREAM_RETRY_MAX_BACKOFF: '5',
    DUCTSTREAM_SUPERVISOR_INTERVAL: '1',
  };
  const stream = { name: 'stream', type: 'pgstream', options: { dsn: cluster.dsn('streams'), stream: 'events' } };
  worker = spawnBin(WORKER_BIN, ['-flow-file', writeFlowFile(dir, flow('dst-out-w', stream))], { ...env, DBOS__VMID: 'outage-dst-worker' });
  await worker.waitForStderr(/flow run prepared/);
  server = await startApiServer({ ...env, DBOS__VMID: 'outage-dst-server' });
  api = flowClient(server.address);
  const hook = { name: 'hook', type: 'http', options: { url: `${peer.url}/hook`, backoff_base: '50ms', backoff_max: '500ms' } };
  await api.call('CreateFlow', { flow: flow('dst-out-s', hook), start_immediately: true });
  await waitFor('the server flow to start', async () => (await state.query(`SELECT 1 FROM ductstream.checkpoints WHERE flow_id = 'dst-out-s'`)).length > 0);

  await source.query(`INSERT INTO public.events SELECT g, 'before' FROM generate_series(1, 500) g`);
  const before = await walPosition();
  for (const id of ['dst-out-w', 'dst-out-s']) await waitFor(`${id} to deliver`, () => checkpointAtLeast(id, before), 60_000);

  // Both destinations go away; changes keep being committed at the source.
  peer.setPolicy((_req, n) => (n % 2 === 0 ? { status: 503 } : { reset: true }));
  const outageAt = Date.now();
  await cluster.shutdown();
  await source.query(
    `BEGIN; INSERT INTO public.events SELECT g, 'during' FROM generate_series(501, 1000) g; UPDATE public.events SET v = 'updated' WHERE id <= 50; COMMIT`,
  );

  for (const id of ['dst-out-w', 'dst-out-s']) {
    await waitFor(
      `${id} to show retrying`,
      async () => {
        const f = await api!.call<FlowMsg>('GetFlow', { flow_id: id });
        return f.state === 'running' && /^retrying: /.test(f.state_reason) && f;
      },
      30_000,
    );
  }
  expect((await api.call<FlowMsg>('GetFlow', { flow_id: 'dst-out-s' })).state_reason).toMatch(/^retrying: http destination "hook"/);
  await worker.waitForStderr(/INFO +progress .*status="retrying: destinations\[0\]\.options\.dsn: cannot connect to PostgreSQL/, 30_000);

  await source.query(`DELETE FROM public.events WHERE id % 10 = 0`);
  await sleep(Math.max(0, outageAt + OUTAGE_MS - Date.now()));
  for (const id of ['dst-out-w', 'dst-out-s']) expect((await api.call<FlowMsg>('GetFlow', { flow_id: id })).state).toBe('running');
  expect(worker.child.exitCode).toBeNull();

  peer.setPolicy(undefined);
  await cluster.restart();
  await source.query(`INSERT INTO public.events SELECT g, 'after' FROM generate_series(1001, 1200) g`);
  const end = await walPosition();
  for (const id of ['dst-out-w', 'dst-out-s']) await waitFor(`${id} to catch up`, () => checkpointAtLeast(id, end), 90_000);
  for (const id of ['dst-out-w', 'dst-out-s']) {
    await waitFor(`${id} to clear its retrying note`, async () => (await api!.call<FlowMsg>('GetFlow', { flow_id: id })).state_reason === '');
  }

  const expected = (await source.query<{ id: string; v: string }>('SELECT id::text AS id, v FROM public.events e ORDER BY e.id')).map((r) => ({ ...r }));
  expect(expected.length).toBe(1100);
  expect(webhookRows()).toEqual(expected);
  expect(await streamRows()).toEqual(expected);
  expect(peer.requests.some((r) => r.outcome === 503) && peer.requests.some((r) => r.outcome === 'reset')).toBe(true);
  worker.child.kill('SIGTERM');
  expect((await worker.exited).code).toBe(0);
});
