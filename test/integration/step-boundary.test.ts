/**
 * Delivery does not stop at the step boundary: a change committed while the workflow commits the
 * checkpoint (between two deliverBatch steps) reaches the destination before that commit step
 * returns, on the same replication connection (the stream is not reopened between steps), and the
 * next step's checkpoint then covers it. Real pipeline in this process: pgoutput source → DBOS
 * `flowRun` (steps of 200 ms) → the HTTP destination and a real webhook peer, checkpoints in a real
 * state database. The commit step is observed through the checkpoint store: once armed, its commit
 * inserts a row into the source and waits (up to a generous deadline, not a timing bound) for the
 * peer to receive it. Before delivery ran ahead of the steps, nothing was read or written until the
 * next step started, so the row never arrived while the commit waited.
 */
import { DBOS } from '@dbos-inc/dbos-sdk';
import { Client } from 'pg';
import { openAppState, type AppState } from '../../src/state/open';
import type { CheckpointStore } from '../../src/state/checkpoint/store';
import { readServiceEnv } from '../../src/config/env';
import { silentLogger } from '../../src/core/log';
import { parseLsn, type Lsn } from '../../src/core/lsn';
import '../../src/destinations';
import { getCodec } from '../../src/wire/registry';
import { launchDbos, shutdownDbos } from '../../src/workflows/dbos';
import { flowRun } from '../../src/workflows/flowRun';
import { startHttpPeer, type HttpPeer } from '../support/peers/httpPeer';
import { createTestDatabase, type TestDatabase } from '../support/pg';
import { PipelineContext } from '../../src/pipeline/context';
import { bindPipelineContext, pipelineContext } from '../../src/workflows/context';

jest.setTimeout(120_000);

const FLOW = 'boundary-flow';
const SLOT = 'boundary_slot';
/** How long the armed commit waits for the row: far beyond any delivery, it only bounds a failing run. */
const ARRIVAL_DEADLINE_MS = 20_000;

let source: TestDatabase;
let stateDb: TestDatabase;
let peer: HttpPeer;
let app: AppState;
let writer: Client;

beforeAll(async () => {
  source = await createTestDatabase('boundary_src');
  stateDb = await createTestDatabase('boundary_state');
  peer = await startHttpPeer();
  await source.query('CREATE TABLE public.items (id bigint PRIMARY KEY, name text NOT NULL)');
  // The test cluster runs with synchronous_commit off: the WAL writer would hold each commit up to 200 ms.
  writer = new Client(source.dsn);
  await writer.connect();
  await writer.query('SET synchronous_commit = on');
});

afterAll(async () => {
  await writer?.end();
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

/** The pid of the walsender streaming the slot (null when inactive). */
async function streamPid(): Promise<number | null> {
  const [row] = await source.query<{ pid: number | null }>('SELECT active_pid AS pid FROM pg_replication_slots WHERE slot_name = $1', [SLOT]);
  return row?.pid ?? null;
}

it('a change committed during the checkpoint commit is delivered before the commit returns, on the same stream', async () => {
  const env = readServiceEnv({ DUCTSTREAM_POSTGRES_DSN: stateDb.dsn, DUCTSTREAM_STEP_MAX_MS: '200' });
  app = await openAppState(env);
  const store = app.checkpoints;
  /** Set by the test: the next commit inserts row 3 and waits for the peer to receive it. */
  let armed = false;
  const observed: Array<{ arrivedDuringCommit: boolean; rowLsn: Lsn; pid: number | null }> = [];
  const checkpoints: CheckpointStore = {
    get: (f, s) => store.get(f, s),
    commit: async (f, s, lsn) => {
      if (armed) {
        armed = false;
        await writer.query(`INSERT INTO public.items VALUES (3, 'committed during the boundary')`);
        const rowLsn = parseLsn((await writer.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn')).rows[0]!.lsn);
        const deadline = Date.now() + ARRIVAL_DEADLINE_MS;
        while (!deliveredIds().includes('3') && Date.now() < deadline) await sleep(10);
        observed.push({ arrivedDuringCommit: deliveredIds().includes('3'), rowLsn, pid: await streamPid() });
      }
      return store.commit(f, s, lsn);
    },
    list: (f) => store.list(f),
    delete: (f) => store.delete(f),
    close: () => store.close(),
  };
  bindPipelineContext(new PipelineContext({ env, flows: app.flows, checkpoints, codecFor: getCodec, log: silentLogger }));
  await app.flows.create({
    id: FLOW,
    name: FLOW,
    wire_format: 'json',
    parallelism: 1,
    state: 'running',
    source: {
      name: 'pg',
      type: 'postgres',
      options: { dsn: source.dsn, slot: SLOT, publication: 'boundary_pub', publication_tables: 'public.items', batch_timeout: '5s' },
    },
    destinations: [{ name: 'hook', type: 'http', options: { url: `${peer.url}/hook` } }],
  });
  await launchDbos({ env, executorId: 'step-boundary-test', systemDatabaseUrl: env.dbosSystemDatabaseUrl!, log: silentLogger });
  const run = await DBOS.startWorkflow(flowRun, { workflowID: `${FLOW}-run` })(FLOW, {
    maxEmptyReads: 0,
    maxStepsPerRun: 100_000,
    onBound: 'end',
    chainIndex: 0,
  });
  try {
    await until('replication', async () => (await streamPid()) !== null);
    await writer.query(`INSERT INTO public.items VALUES (1, 'warm-up')`);
    await until('the warm-up row', () => deliveredIds().includes('1'), 60_000);
    const pidBefore = await streamPid();

    // The step that delivers row 2 moves the checkpoint: its commit step inserts row 3 and waits for it.
    armed = true;
    await writer.query(`INSERT INTO public.items VALUES (2, 'moves the checkpoint')`);
    await until('the armed commit', () => observed.length > 0, 60_000);
    const [seen] = observed;
    expect(seen!.arrivedDuringCommit).toBe(true);
    // Same walsender before, during and after the boundary: the stream was not reopened.
    expect(seen!.pid).toBe(pidBefore);
    await until('a checkpoint covering row 3', async () => ((await store.get(FLOW, SLOT)) ?? 0n) >= seen!.rowLsn);
    expect(await streamPid()).toBe(pidBefore);
    expect(deliveredIds().sort()).toEqual(['1', '2', '3']);
  } finally {
    pipelineContext().runtimes.requestStop(FLOW);
    await run.getResult().catch(() => undefined);
    await pipelineContext().runtimes.releaseAll();
  }
});
