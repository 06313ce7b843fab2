/**
 * A run that must stop once caught up (`maxEmptyReads: 1`) starts while the source's last commits,
 * made with `synchronous_commit = off`, are not flushed yet: they are committed (visible to every
 * query) but the WAL sender streams only flushed WAL, and the WAL writer flushes them a few hundred
 * milliseconds later. The run must deliver them before it counts as caught up.
 *
 * The source is a private cluster whose WAL writer the test stops (SIGSTOP) before the commits, so
 * that nothing flushes them; the source of the run hands out its first poll (empty: nothing flushed
 * reaches the stream) and only then lets the WAL writer go on. The flow runs in process on the DBOS
 * `flowRun` workflow into the in-memory `faulty` destination (no faults); the rows read back must be
 * the source's, and the checkpoint must have reached the end of the commits.
 */
import { DBOS } from '@dbos-inc/dbos-sdk';
import { Client } from 'pg';
import { openAppState, type AppState } from '../../src/state/open';
import { readServiceEnv } from '../../src/config/env';
import { silentLogger } from '../../src/core/log';
import { parseLsn, type Lsn } from '../../src/core/lsn';
import type { Batch } from '../../src/core/change';
import '../../src/destinations';
import { getCodec } from '../../src/wire/registry';
import { PipelineContext } from '../../src/pipeline/context';
import { PostgresSource } from '../../src/source/postgres/source';
import type { Source, SourceStats } from '../../src/source/source';
import { launchDbos, shutdownDbos } from '../../src/workflows/dbos';
import { bindPipelineContext, pipelineContext } from '../../src/workflows/context';
import { flowRun } from '../../src/workflows/flowRun';
import { deliveredPositions, registerFaultyDestination, sinkOf, sinkRows } from '../support/faultyDestination';
import { createTestDatabase, type TestDatabase } from '../support/pg';
import { startLocalCluster, type LocalCluster } from '../../tools/localpg';

jest.setTimeout(120_000);

const FLOW = 'async-commit';
const TABLE = 'public.t_async';

let cluster: LocalCluster;
let src: Client;
let stateDb: TestDatabase;
let state: AppState;
/** The stopped WAL writer of the source cluster, until it is let go on. */
let walWriter: number | null = null;
/** The source's flushed WAL position when the run's source handed out its first empty batch. */
let flushedAtFirstEmpty: Lsn | null = null;

const lsnOf = async (sql: string): Promise<Lsn> => parseLsn((await src.query<{ l: string }>(`SELECT ${sql}::text AS l`)).rows[0]!.l);

function resumeWalWriter(): void {
  if (walWriter === null) return;
  process.kill(walWriter, 'SIGCONT');
  walWriter = null;
}

beforeAll(async () => {
  cluster = await startLocalCluster(); // synchronous_commit = off, like the shared test cluster
  src = new Client(cluster.dsn());
  await src.connect();
  stateDb = await createTestDatabase('async_commit_state');
  const env = readServiceEnv({ DUCTSTREAM_POSTGRES_DSN: stateDb.dsn, DUCTSTREAM_RETRY_MAX_BACKOFF: '1' });
  state = await openAppState(env);
  registerFaultyDestination();
  bindPipelineContext(
    new PipelineContext({
      env,
      flows: state.flows,
      checkpoints: state.checkpoints,
      codecFor: getCodec,
      log: silentLogger,
      openSource: resumingAfterFirstEmpty,
    }),
  );
  await launchDbos({ env, executorId: 'flowrun-async-commit-test', systemDatabaseUrl: env.dbosSystemDatabaseUrl!, log: silentLogger });
});

afterAll(async () => {
  resumeWalWriter();
  await pipelineContext().runtimes.releaseAll();
  await shutdownDbos();
  await state?.close();
  await src?.end();
  await stateDb?.drop();
  await cluster?.stop();
});

/** The real source; after handing out its first empty batch it lets the stopped WAL writer go on. */
function resumingAfterFirstEmpty(config: ConstructorParameters<typeof PostgresSource>[0], deps: ConstructorParameters<typeof PostgresSource>[1]): Source {
  const inner = new PostgresSource(config, deps);
  return {
    open(from: Lsn): AsyncIterable<Batch> {
      return {
        async *[Symbol.asyncIterator]() {
          try {
            for await (const batch of inner.open(from)) {
              if (batch.changes.length === 0 && walWriter !== null) {
                flushedAtFirstEmpty = await lsnOf('pg_current_wal_flush_lsn()');
                yield batch;
                resumeWalWriter();
                continue;
              }
              yield batch;
            }
          } finally {
            resumeWalWriter();
          }
        },
      };
    },
    ack: (upTo: Lsn) => inner.ack(upTo),
    close: () => inner.close(),
    stats: (): SourceStats => inner.stats(),
  };
}

it('commits not yet flushed when the run starts are delivered before the run counts as caught up', async () => {
  await src.query(`CREATE TABLE ${TABLE} (id bigint PRIMARY KEY, v text NOT NULL)`);
  await src.query(`CREATE PUBLICATION async_pub FOR TABLE ${TABLE}`);
  await src.query(`SELECT pg_create_logical_replication_slot('async_slot', 'pgoutput')`);
  const pid = (await src.query<{ pid: number }>(`SELECT pid FROM pg_stat_activity WHERE backend_type = 'walwriter'`)).rows[0]!.pid;
  process.kill(pid, 'SIGSTOP');
  walWriter = pid;
  await src.query(`INSERT INTO ${TABLE} SELECT g, 'v' || g FROM generate_series(1, 30) g`);
  await src.query(`UPDATE ${TABLE} SET v = 'u' || id WHERE id % 3 = 0`);
  await src.query(`DELETE FROM ${TABLE} WHERE id % 5 = 0`);
  const walEnd = await lsnOf('pg_current_wal_insert_lsn()');
  // Committed, not flushed: what a run starting now sees.
  expect(await lsnOf('pg_current_wal_flush_lsn()')).toBeLessThan(walEnd);

  await state.flows.create({
    id: FLOW,
    name: FLOW,
    wire_format: 'json',
    parallelism: 1,
    state: 'running',
    source: {
      name: 'pg',
      type: 'postgres',
      options: {
        dsn: cluster.dsn(),
        slot: 'async_slot',
        publication: 'async_pub',
        batch_timeout: '200ms',
        status_interval: '1s',
        heartbeat_interval: '0',
      },
    },
    destinations: [{ name: 'dest', type: 'faulty', options: { sink: FLOW } }],
  });
  const handle = await DBOS.startWorkflow(flowRun, { workflowID: `${FLOW}-run` })(FLOW, {
    maxEmptyReads: 1,
    maxStepsPerRun: 10_000,
    onBound: 'end',
    chainIndex: 0,
  });
  const result = await handle.getResult();

  // The first poll found nothing because nothing was flushed, not because the stream had caught up.
  expect(flushedAtFirstEmpty).not.toBeNull();
  expect(flushedAtFirstEmpty!).toBeLessThan(walEnd);
  expect(result.end).toBe('empty');
  const rows = (await src.query<Record<string, string>>(`SELECT t.id::text AS id, t.v FROM ${TABLE} t ORDER BY t.id`)).rows;
  expect(rows).toHaveLength(24);
  expect(sinkRows(sinkOf(FLOW), TABLE)).toEqual(rows);
  expect(result.rows).toBe(30 + 10 + 6);
  const lastCommit = [...deliveredPositions(sinkOf(FLOW))].map((p) => BigInt(p.split(':')[0]!)).reduce((a, b) => (b > a ? b : a), 0n);
  expect((await state.checkpoints.get(FLOW, 'async_slot'))!).toBeGreaterThan(lastCommit);
});
