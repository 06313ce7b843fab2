import { readServiceEnv } from '../../src/config/env';
import { silentLogger } from '../../src/core/log';
import type { Flow } from '../../src/core/flow';
import { createPipelineContext } from '../../src/pipeline/context';
import type { CheckpointStore } from '../../src/state/checkpoint/store';
import { MemoryFlowStore } from '../../src/state/flows/memoryStore';

/** Two pipeline contexts (two processes' worth of data path) share no runtime, stop request, policy or progress. */
const FLOW: Flow = {
  id: 'ctx-flow',
  name: 'ctx-flow',
  wire_format: 'json',
  parallelism: 1,
  state: 'running',
  source: { name: 'pg', type: 'postgres', options: { dsn: 'postgres://u:p@127.0.0.1:1/db', slot: 's', publication: 'p' } },
  destinations: [{ name: 'd', type: 'duckdb', options: { dsn: ':memory:' } }],
};

const noCheckpoints: CheckpointStore = {
  get: async () => null,
  commit: async (_f, _s, lsn) => lsn,
  list: async () => [],
  delete: async () => undefined,
  close: async () => undefined,
};

async function contextWithFlow() {
  const flows = new MemoryFlowStore();
  await flows.create(FLOW);
  return createPipelineContext(readServiceEnv({}), { flows, checkpoints: noCheckpoints }, silentLogger);
}

test('contexts do not share runtimes, stop requests, run policies or progress', async () => {
  const a = await contextWithFlow();
  const b = await contextWithFlow();
  const rt = await a.runtimes.runtimeFor(FLOW.id);
  expect(await a.runtimes.runtimeFor(FLOW.id)).toBe(rt);
  expect(a.runtimes.flowOf(FLOW.id)?.id).toBe(FLOW.id);
  expect(b.runtimes.runtimeIfHere(FLOW.id)).toBeUndefined();

  a.runtimes.requestStop(FLOW.id);
  a.runtimes.setRunPolicy(FLOW.id, { maxEmptyReads: 1 });
  a.progress.of(FLOW.id).rows = 42;
  expect(a.runtimes.stopRequested(FLOW.id)).toBe(true);
  expect(b.runtimes.stopRequested(FLOW.id)).toBe(false);
  expect(a.runtimes.runPolicyOf(FLOW.id)).toEqual({ maxEmptyReads: 1 });
  expect(b.runtimes.runPolicyOf(FLOW.id)).toBeUndefined();
  expect(b.progress.of(FLOW.id).rows).toBe(0);
  expect(a.progress.of(FLOW.id).rows).toBe(42);

  await a.runtimes.releaseAll();
  expect(a.runtimes.runtimeIfHere(FLOW.id)).toBeUndefined();
});

test('a stop of every flow reaches flows the context has not seen yet', async () => {
  const a = await contextWithFlow();
  a.runtimes.requestStop();
  expect(a.runtimes.stopRequested('any-flow')).toBe(true);
});

test('an unknown flow is not_found and leaves no runtime behind', async () => {
  const a = await contextWithFlow();
  await expect(a.runtimes.runtimeFor('nope')).rejects.toMatchObject({ code: 'not_found' });
  expect(a.runtimes.runtimeIfHere('nope')).toBeUndefined();
});
