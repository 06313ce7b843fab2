/**
 * An idle flow's deliverBatch step waits on the open stream for its first change instead of ending
 * at every empty poll: over seconds of idleness the run records about one step per idle bound
 * (DUCTSTREAM_STEP_IDLE_MAX_MS), not one per `batch_timeout`, counted in DBOS's own step records
 * (operation_outputs of the system database). A change that arrives after a long idle period is
 * still delivered at once and checkpointed, and a pause still ends an idle run promptly. Real
 * pipeline in this process: pgoutput source → DBOS `flowRun` → the HTTP destination and a real
 * webhook peer, checkpoints in a real state database. Before idle steps waited, each empty poll
 * (every 200 ms here) ended a step: ~35 steps in 7 s idle.
 */
import { DBOS } from '@dbos-inc/dbos-sdk';
import { Client } from 'pg';
import { openAppState, type AppState } from '../../src/state/open';
import { readServiceEnv, type ServiceEnv } from '../../src/config/env';
import { silentLogger } from '../../src/core/log';
import { parseLsn } from '../../src/core/lsn';
import '../../src/destinations';
import { getCodec } from '../../src/wire/registry';
import { launchDbos, shutdownDbos } from '../../src/workflows/dbos';
import { flowRun, type FlowRunResult } from '../../src/workflows/flowRun';
import { startHttpPeer, type HttpPeer } from '../support/peers/httpPeer';
import { createTestDatabase, type TestDatabase } from '../support/pg';
import { PipelineContext } from '../../src/pipeline/context';
import { bindPipelineContext, pipelineContext } from '../../src/workflows/context';

jest.setTimeout(120_000);

const FLOW = 'idle-flow';
const SLOT = 'idle_slot';
const RUN = `${FLOW}-run`;
const BATCH_TIMEOUT_MS = 200;
const IDLE_MAX_MS = 3000;

let source: TestDatabase;
let stateDb: TestDatabase;
let peer: HttpPeer;
let app: AppState;
let env: ServiceEnv;
let sys: Client;

beforeAll(async () => {
  source = await createTestDatabase('idle_src');
  stateDb = await createTestDatabase('idle_state');
  peer = await startHttpPeer();
  await source.query('CREATE TABLE public.items (id bigint PRIMARY KEY, name text NOT NULL)');
  env = readServiceEnv({ DUCTSTREAM_POSTGRES_DSN: stateDb.dsn, DUCTSTREAM_STEP_IDLE_MAX_MS: String(IDLE_MAX_MS) });
  app = await openAppState(env);
  bindPipelineContext(new PipelineContext({ env, flows: app.flows, checkpoints: app.checkpoints, codecFor: getCodec, log: silentLogger }));
  await app.flows.create({
    id: FLOW,
    name: FLOW,
    wire_format: 'json',
    parallelism: 1,
    state: 'running',
    source: {
      name: 'pg',
      type: 'postgres',
      options: { dsn: source.dsn, slot: SLOT, publication: 'idle_pub', publication_tables: 'public.items', batch_timeout: `${BATCH_TIMEOUT_MS}ms` },
    },
    destinations: [{ name: 'hook', type: 'http', options: { url: `${peer.url}/hook` } }],
  });
  await launchDbos({ env, executorId: 'idle-steps-test', systemDatabaseUrl: env.dbosSystemDatabaseUrl!, log: silentLogger });
  sys = new Client(env.dbosSystemDatabaseUrl);
  await sys.connect();
});

afterAll(async () => {
  pipelineContext().runtimes.requestStop(FLOW);
  await pipelineContext()
    .runtimes.releaseAll()
    .catch(() => undefined);
  await sys?.end();
  await shutdownDbos();
  await app?.close();
  await peer?.close();
  await source?.drop();
  await stateDb?.drop();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Ids of the rows the peer received (inserts), in arrival order. */
function deliveredIds(): string[] {
  return peer.delivered('/hook').flatMap((r) => {
    const e = JSON.parse(r.body.toString()) as { after?: { id?: string } };
    return e.after?.id !== undefined ? [e.after.id] : [];
  });
}

async function until(what: string, probe: () => Promise<boolean> | boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(10);
  }
}

/** deliverBatch steps the run has recorded in the DBOS system database. */
async function deliverSteps(): Promise<number> {
  const r = await sys.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM dbos.operation_outputs WHERE workflow_uuid = $1 AND function_name = 'deliverBatch'`,
    [RUN],
  );
  return r.rows[0]!.n;
}

async function insert(id: number): Promise<bigint> {
  await source.query(`INSERT INTO public.items VALUES ($1, 'row')`, [id]);
  return parseLsn((await source.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn'))[0]!.lsn);
}

it('an idle run records about one step per idle bound, delivers a late change at once, and pauses promptly', async () => {
  const run = await DBOS.startWorkflow(flowRun, { workflowID: RUN })(FLOW, { maxEmptyReads: 0, maxStepsPerRun: 100_000, onBound: 'end', chainIndex: 0 });
  await until('replication', async () => (await source.query('SELECT 1 FROM pg_replication_slots WHERE slot_name = $1 AND active', [SLOT])).length > 0, 60_000);
  await insert(1);
  await until('the warm-up row', () => deliveredIds().includes('1'), 60_000);
  // Let the step that delivered the warm-up row end and its successor settle into waiting.
  await sleep(2 * BATCH_TIMEOUT_MS + 500);

  // Idle for 7 s: at most one step per idle bound (3 s) and one commit-every end, far from 7000/200 = 35.
  const before = await deliverSteps();
  await sleep(7000);
  const idleSteps = (await deliverSteps()) - before;
  expect(idleSteps).toBeGreaterThanOrEqual(1); // the idle bound ends a waiting step: it does not wait forever
  expect(idleSteps).toBeLessThanOrEqual(4);

  // A change after the long idle period: delivered at once (well within a step's bounds), then checkpointed.
  const sent = Date.now();
  const rowLsn = await insert(2);
  await until('the late row', () => deliveredIds().includes('2'), 30_000);
  const latencyMs = Date.now() - sent;
  expect(latencyMs).toBeLessThan(IDLE_MAX_MS);
  await until('a checkpoint covering the late row', async () => ((await app.checkpoints.get(FLOW, SLOT)) ?? 0n) >= rowLsn, 10_000);
  expect(deliveredIds().sort()).toEqual(['1', '2']);

  // A pause while the step waits idle ends the run as before: the next empty poll looks at the store (at most once a second).
  await sleep(1000);
  await app.flows.setState(FLOW, 'paused');
  const paused = Date.now();
  const result: FlowRunResult = await run.getResult();
  expect(result.end).toBe('paused');
  expect(Date.now() - paused).toBeLessThan(4000);
  expect(result.rows).toBe(2);
});
