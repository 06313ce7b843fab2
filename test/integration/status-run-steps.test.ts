/**
 * A flow run's steps in its status are the newest STEPS_SHOWN ones, in ascending order, with a
 * failed step's error as DBOS recorded it, even for a run longer than DBOS's step listing was
 * read before (the first 2000 steps, ascending, every output deserialized, then the last 20 kept:
 * a 2030-step run showed steps 1981..2000). Read back through `ductstream-admin flow status
 * -flow-id -json` (DBOSClient) and through RunHistory on the in-process DBOS (the server's and the
 * worker's reader), and compared with DBOS's own full listing. Real PostgreSQL, real DBOS: the run
 * is a `flowRun` workflow of this process with 2030 steps.
 */
import { DBOS } from '@dbos-inc/dbos-sdk';
import { Client } from 'pg';
import { readServiceEnv, type ServiceEnv } from '../../src/config/env';
import { silentLogger } from '../../src/core/log';
import { openAppState, type AppState } from '../../src/state/open';
import { dbosWorkflowReader, runHistoryOn, STEPS_SHOWN } from '../../src/status/runHistory';
import { launchDbos, shutdownDbos } from '../../src/workflows/dbos';
import { FLOW_RUN_WORKFLOW } from '../../src/workflows/flowRun';
import { adminJson } from '../support/admin';
import { createTestDatabase, type TestDatabase } from '../support/pg';

jest.setTimeout(180_000);

const FLOW = 'steps-flow';
const RUN = `flowrun-${FLOW}-1`;
const STEPS = 2030;
/** Steps that throw: one among the newest STEPS_SHOWN, one long before. */
const FAILING = new Set([5, 2025]);

const stepName = (i: number) => `step${String(i).padStart(4, '0')}`;

// Registered before launch under the flow-run workflow's name (in a class of its own: the real
// flowRun is registered too), so the status surfaces find it.
const longRun = DBOS.registerWorkflow(
  async (): Promise<number> => {
    let failed = 0;
    for (let i = 1; i <= STEPS; i++) {
      try {
        await DBOS.runStep(
          async () => {
            if (FAILING.has(i)) throw new Error(`boom at ${i}`);
            return { i, padding: 'x'.repeat(200) };
          },
          { name: stepName(i) },
        );
      } catch {
        failed++;
      }
    }
    return failed;
  },
  { name: FLOW_RUN_WORKFLOW, className: 'RunStepsTest' },
);

let source: TestDatabase;
let stateDb: TestDatabase;
let app: AppState;
let env: ServiceEnv;

beforeAll(async () => {
  source = await createTestDatabase('runsteps_src');
  stateDb = await createTestDatabase('runsteps_state');
  await source.query('CREATE TABLE public.items (id bigint PRIMARY KEY)');
  env = readServiceEnv({ DUCTSTREAM_POSTGRES_DSN: stateDb.dsn });
  app = await openAppState(env);
  await app.flows.create({
    id: FLOW,
    name: FLOW,
    wire_format: 'json',
    parallelism: 1,
    state: 'stopped',
    source: {
      name: 'pg',
      type: 'postgres',
      options: { dsn: source.dsn, slot: 'runsteps_slot', publication: 'runsteps_pub', publication_tables: 'public.items' },
    },
    destinations: [{ name: 'hook', type: 'http', options: { url: 'http://127.0.0.1:9/hook' } }],
  });
  await launchDbos({ env, executorId: 'run-steps-test', systemDatabaseUrl: env.dbosSystemDatabaseUrl!, log: silentLogger });
  const handle = await DBOS.startWorkflow(longRun, { workflowID: RUN })();
  expect(await handle.getResult()).toBe(FAILING.size);
});

afterAll(async () => {
  await shutdownDbos();
  await app?.close();
  await source?.drop();
  await stateDb?.drop();
});

/** The names and errors DBOS itself lists for the newest STEPS_SHOWN steps (every step read). */
async function newestFromDbos(): Promise<Array<{ functionId: number; name: string; error: string }>> {
  const all = (await DBOS.listWorkflowSteps(RUN, { limit: STEPS + 100 }))!;
  expect(all).toHaveLength(STEPS);
  return all.slice(-STEPS_SHOWN).map((s) => ({ functionId: s.functionID, name: s.name, error: s.error ? s.error.message : '' }));
}

test('the system table has the columns the step read uses', async () => {
  const sys = new Client(env.dbosSystemDatabaseUrl);
  await sys.connect();
  try {
    const { rows } = await sys.query<{ column_name: string; data_type: string }>(
      `SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = 'dbos' AND table_name = 'operation_outputs'`,
    );
    const types = new Map(rows.map((r) => [r.column_name, r.data_type]));
    expect(types.get('workflow_uuid')).toBe('text');
    expect(types.get('function_id')).toBe('integer');
    expect(types.get('function_name')).toBe('text');
    expect(types.get('error')).toBe('text');
    expect(types.get('started_at_epoch_ms')).toBe('bigint');
    expect(types.get('completed_at_epoch_ms')).toBe('bigint');
  } finally {
    await sys.end();
  }
});

test('admin `flow status -flow-id -json` shows the newest steps of a 2030-step run, ascending, with the failed one', async () => {
  const expected = await newestFromDbos();
  expect(expected.map((s) => s.name)).toEqual(Array.from({ length: STEPS_SHOWN }, (_, k) => stepName(STEPS - STEPS_SHOWN + 1 + k)));
  const out = await adminJson<{ runs: Array<{ run_id: string; steps: Array<{ function_id: number; name: string; error: string; started_at: string }> }> }>(
    ['flow', 'status', '-flow-id', FLOW],
    { DUCTSTREAM_POSTGRES_DSN: stateDb.dsn },
  );
  expect(out.runs[0]!.run_id).toBe(RUN);
  const steps = out.runs[0]!.steps;
  expect(steps.map((s) => ({ functionId: s.function_id, name: s.name }))).toEqual(expected.map(({ functionId, name }) => ({ functionId, name })));
  expect(steps.find((s) => s.name === stepName(2025))!.error).toMatch(/boom at 2025/);
  expect(steps.filter((s) => s.error !== '').map((s) => s.name)).toEqual([stepName(2025)]);
  expect(steps.every((s) => s.started_at !== '')).toBe(true);
});

test('RunHistory on the in-process DBOS (server, worker) shows the same steps as DBOS lists them', async () => {
  const expected = await newestFromDbos();
  const history = runHistoryOn(dbosWorkflowReader(DBOS), env.dbosSystemDatabaseUrl!);
  try {
    const [run] = await history.recent(FLOW, 1, 1);
    expect(run!.runId).toBe(RUN);
    expect(run!.steps.map((s) => ({ functionId: s.functionId, name: s.name, error: s.error ?? '' }))).toEqual(
      expected.map((s) => ({ ...s, error: s.error === '' ? '' : expect.stringContaining(s.error) })),
    );
    const full = (await DBOS.listWorkflowSteps(RUN, { limit: STEPS + 100 }))!.slice(-STEPS_SHOWN);
    expect(run!.steps.map((s) => [s.startedAt?.getTime(), s.completedAt?.getTime()])).toEqual(full.map((s) => [s.startedAtEpochMs, s.completedAtEpochMs]));
  } finally {
    await history.close();
  }
});
