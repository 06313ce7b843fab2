/**
 * dbos-config.yaml: `npx dbos start` starts the service (./bin/ductstream), and
 * `npx dbos workflow list|get|steps` read its runs from the system database named by
 * DBOS_SYSTEM_DATABASE_URL (substituted into the yaml).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../../tools/localpg';
import { flowClient, waitFor, type FlowClient } from '../support/api';
import { testFlow } from '../support/flows';
import { clusterDsn, createTestDatabase, type TestDatabase } from '../support/pg';
import { REPO_ROOT } from '../support/worker';

const run = promisify(execFile);
const DBOS_BIN = join(REPO_ROOT, 'node_modules', '.bin', 'dbos');

let source: TestDatabase;
let state: TestDatabase;
let service: ChildProcess;
let api: FlowClient;
let env: NodeJS.ProcessEnv;
let output = '';

beforeAll(async () => {
  source = await createTestDatabase('api_cli_src');
  state = await createTestDatabase('api_cli_state');
  await source.query('CREATE TABLE public.things (id bigint PRIMARY KEY, v text)');
  const port = await freePort();
  env = {
    ...process.env,
    DUCTSTREAM_POSTGRES_DSN: state.dsn,
    DBOS_SYSTEM_DATABASE_URL: clusterDsn(`${state.name}_dbos_sys`),
    DUCTSTREAM_GRPC_LISTEN: `127.0.0.1:${port}`,
    DBOS__VMID: 'api-dbos-cli-test',
  };
  // Its own process group, so the service it starts is stopped with it.
  service = spawn(DBOS_BIN, ['start'], { cwd: REPO_ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  service.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  service.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  api = flowClient(`127.0.0.1:${port}`);
  await waitFor(
    'the service started by dbos start',
    async () => {
      if (service.exitCode !== null) throw new Error(`dbos start exited:\n${output}`);
      return (await api.call('ListFlows', {}).catch(() => null)) !== null;
    },
    60_000,
    250,
  );
});

afterAll(async () => {
  api?.close();
  if (service?.pid) {
    try {
      process.kill(-service.pid, 'SIGTERM');
    } catch {
      // already gone
    }
    await waitFor(
      'the service group to exit',
      async () => {
        try {
          process.kill(-service.pid!, 0);
          return false;
        } catch {
          return true;
        }
      },
      30_000,
    ).catch(() => process.kill(-service.pid!, 'SIGKILL'));
  }
  await source.drop();
  await state.drop();
});

async function dbos(args: string[]): Promise<unknown> {
  const { stdout } = await run(DBOS_BIN, args, { cwd: REPO_ROOT, env });
  return JSON.parse(stdout);
}

it('npx dbos start serves the API; npx dbos workflow list/get/steps show its runs', async () => {
  await api.call('CreateFlow', {
    flow: testFlow({
      id: 'cli',
      sourceDsn: source.dsn,
      slot: 'cli_slot',
      publication: 'cli_pub',
      tables: ['public.things'],
      destinations: [{ name: 'wh', type: 'duckdb', options: { dsn: ':memory:' } }],
    }),
  });
  const ended = async (runId: string) =>
    waitFor(`run ${runId}`, async () => {
      const r = await api.call<{ status: string; rows: string }>('GetFlowRun', { run_id: runId });
      return r.status === 'SUCCESS' ? r : null;
    });
  const first = await api.call<{ run_id: string }>('RunFlowOnce', { flow_id: 'cli' });
  await ended(first.run_id);
  await source.query(`INSERT INTO public.things SELECT g, 'v' || g FROM generate_series(1, 250) g`);
  const second = await api.call<{ run_id: string }>('RunFlowOnce', { flow_id: 'cli' });
  expect((await ended(second.run_id)).rows).toBe('250');

  const listed = (await dbos(['workflow', 'list', '-n', 'flowRun', '-l', '10'])) as Array<{ workflowID: string; status: string; executorId: string }>;
  expect(listed.map((w) => w.workflowID).sort()).toEqual([first.run_id, second.run_id].sort());
  expect(listed.every((w) => w.status === 'SUCCESS' && w.executorId === 'api-dbos-cli-test')).toBe(true);
  const got = (await dbos(['workflow', 'get', second.run_id])) as { workflowID: string; status: string; queueName?: string };
  expect(got).toMatchObject({ workflowID: second.run_id, status: 'SUCCESS' });
  const steps = (await dbos(['workflow', 'steps', second.run_id])) as Array<{ name: string }>;
  const names = steps.map((s) => s.name);
  expect(names[0]).toBe('prepareSource');
  expect(names).toEqual(expect.arrayContaining(['deliverBatch', 'commitCheckpoint', 'finishRun']));
});
