/**
 * UpdateFlow on a running flow is definite: the call returns once the flow's run executes the new
 * definition (the old run ended `updated` and a successor runs the new one), and every change
 * after that goes where the new definition says — also when the old definition was stuck retrying
 * a destination that is down, which is how an operator fixes a wrong endpoint.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../tools/localpg';
import { flowClient, startApiServer, waitFor, type ApiServerProcess, type FlowClient } from '../support/api';
import { queryDuckDbFile } from '../support/duckdbFile';
import { testFlow } from '../support/flows';
import { createTestDatabase, type TestDatabase } from '../support/pg';
import { startHttpPeer, type HttpPeer } from '../support/peers/httpPeer';

let source: TestDatabase;
let state: TestDatabase;
let dir: string;
let peer: HttpPeer;
let server: ApiServerProcess;
let api: FlowClient;

interface FlowMsg {
  id: string;
  state: string;
  state_reason: string;
  destinations: Array<{ name: string; type: string; options: Record<string, string> }>;
}
interface RunMsg {
  run_id: string;
  status: string;
  end: string;
  successor_run_id: string;
}

beforeAll(async () => {
  source = await createTestDatabase('api_update_src');
  state = await createTestDatabase('api_update_state');
  dir = mkdtempSync(join(tmpdir(), 'ductstream-api-update-'));
  await source.query('CREATE TABLE public.items (id bigint PRIMARY KEY, v text NOT NULL)');
  peer = await startHttpPeer();
  server = await startApiServer({
    DUCTSTREAM_POSTGRES_DSN: state.dsn,
    DBOS__VMID: 'api-update-test',
    DUCTSTREAM_SUPERVISOR_INTERVAL: '1',
    DUCTSTREAM_RETRY_MAX_BACKOFF: '2',
  });
  api = flowClient(server.address);
});

afterAll(async () => {
  api?.close();
  await server?.stop();
  await peer?.close();
  await source.drop();
  await state.drop();
  rmSync(dir, { recursive: true, force: true });
});

async function checkpointAtLeast(lsn: string): Promise<boolean> {
  const rows = await state.query<{ ok: boolean }>(`SELECT lsn >= $1::pg_lsn AS ok FROM ductstream.checkpoints WHERE flow_id = 'upd'`, [lsn]);
  return rows[0]?.ok === true;
}

async function insert(from: number, to: number, v: string): Promise<string> {
  await source.query(`INSERT INTO public.items SELECT g, $1 FROM generate_series(${from}, ${to}) g`, [v]);
  return (await source.query<{ lsn: string }>('SELECT pg_current_wal_insert_lsn()::text AS lsn'))[0]!.lsn;
}

const duck = (name: string) => join(dir, `${name}.duckdb`);
const ids = async (file: string) => (await queryDuckDbFile(file, 'SELECT id::INTEGER AS id FROM public.items ORDER BY id')).map((r) => r.id as number);
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

it('UpdateFlow returns once the new definition runs; later changes go only to the new destination', async () => {
  const flow = testFlow({
    id: 'upd',
    sourceDsn: source.dsn,
    slot: 'upd_slot',
    publication: 'upd_pub',
    tables: ['public.items'],
    destinations: [{ name: 'target', type: 'duckdb', options: { dsn: duck('a') } }],
  });
  await api.call('CreateFlow', { flow, start_immediately: true });
  await waitFor('the first checkpoint', async () => (await state.query(`SELECT 1 FROM ductstream.checkpoints WHERE flow_id = 'upd'`)).length > 0);
  const upTo100 = await insert(1, 100, 'a');
  await waitFor('rows 1-100 in a', () => checkpointAtLeast(upTo100));

  const current = await api.call<FlowMsg>('GetFlow', { flow_id: 'upd' });
  const updated = await api.call<FlowMsg>('UpdateFlow', {
    flow: { ...current, destinations: [{ name: 'target', type: 'duckdb', options: { dsn: duck('b') } }] },
  });
  expect(updated).toMatchObject({ state: 'running', state_reason: '' });
  // The old run already handed over to a successor on the new definition.
  const { runs } = await api.call<{ runs: RunMsg[] }>('ListFlowRuns', { flow_id: 'upd' });
  expect(runs[1]).toMatchObject({ status: 'SUCCESS', end: 'updated', successor_run_id: runs[0]!.run_id });
  expect(runs[0]!.status).toBe('PENDING');

  const upTo200 = await insert(101, 200, 'b');
  await waitFor('rows 101-200 delivered', () => checkpointAtLeast(upTo200));
  expect(await ids(duck('a'))).toEqual(range(1, 100));
});

it('an update replaces a definition that is stuck retrying a dead endpoint, and the new one delivers everything since', async () => {
  const dead = `http://127.0.0.1:${await freePort()}/hook`;
  const current = await api.call<FlowMsg>('GetFlow', { flow_id: 'upd' });
  await api.call<FlowMsg>('UpdateFlow', { flow: { ...current, destinations: [{ name: 'hook', type: 'http', options: { url: dead, backoff_max: '200ms' } }] } });
  const stuckFrom = await insert(201, 300, 'stuck');
  const stuck = await waitFor('the flow to retry the dead endpoint', async () => {
    const f = await api.call<FlowMsg>('GetFlow', { flow_id: 'upd' });
    return f.state === 'running' && /^retrying: http destination "hook".*ECONNREFUSED/.test(f.state_reason) && f;
  });
  expect(await checkpointAtLeast(stuckFrom)).toBe(false);

  const fixed = await api.call<FlowMsg>('UpdateFlow', {
    flow: { ...stuck, destinations: [{ name: 'hook', type: 'http', options: { url: `${peer.url}/hook` } }] },
  });
  expect(fixed.state).toBe('running');
  expect(fixed.state_reason).toBe('');
  const upTo350 = await insert(301, 350, 'fixed');
  await waitFor('rows 301-350 delivered', () => checkpointAtLeast(upTo350));
  const delivered = peer.delivered('/hook').map((r) => Number((JSON.parse(r.body.toString()) as { key: { id: string } }).key.id));
  expect([...new Set(delivered)].sort((a, b) => a - b)).toEqual(range(201, 350));
  expect((await api.call<FlowMsg>('GetFlow', { flow_id: 'upd' })).state_reason).toBe('');
});
