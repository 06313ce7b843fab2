/**
 * Backfill holds are read for every flow at once: any number of streaming flows looking up their
 * hold within a second cost one DBOS query (each idle flow looks it up about once a second, so
 * 200 flows made 200 DBOS queries a second on DBOS's system pool, and status reads queued behind
 * them), and each flow still gets the tables and lowest start position of its own active
 * backfills. Real PostgreSQL, real DBOS: the backfills are `backfill` workflows enqueued on a
 * queue nothing listens on, so they stay active with their input.
 */
import { DBOS, DBOSClient } from '@dbos-inc/dbos-sdk';
import { readServiceEnv } from '../../src/config/env';
import { silentLogger } from '../../src/core/log';
import { backfillHoldOf } from '../../src/services/backfill/hold';
import { BACKFILL_WORKFLOW, type BackfillRequest } from '../../src/workflows/backfill/types';
import { launchDbos, shutdownDbos } from '../../src/workflows/dbos';
import { createTestDatabase, type TestDatabase } from '../support/pg';

jest.setTimeout(120_000);

let stateDb: TestDatabase;
let client: DBOSClient;

const request = (flowId: string, tables: string[], holdLsn: string): BackfillRequest => ({
  flowId,
  tables,
  workers: 1,
  partitionCount: 1,
  consistent: true,
  resolveStaging: false,
  resync: false,
  holdLsn,
});

beforeAll(async () => {
  stateDb = await createTestDatabase('bfhold');
  const env = readServiceEnv({ DUCTSTREAM_POSTGRES_DSN: stateDb.dsn });
  await launchDbos({ env, executorId: 'bfhold-test', systemDatabaseUrl: env.dbosSystemDatabaseUrl!, log: silentLogger });
  client = await DBOSClient.create({ systemDatabaseUrl: env.dbosSystemDatabaseUrl!, applicationName: env.dbosApp });
  const enqueue = (id: string, req: BackfillRequest) =>
    client.enqueue({ workflowName: BACKFILL_WORKFLOW, queueName: 'bfhold-nobody-listens', workflowID: id, appVersion: env.appVersion }, req);
  await enqueue('backfill-fa-1', request('fa', ['public.a', 'public.b'], '0/3000000'));
  await enqueue('backfill-fa-2', request('fa', ['public.c'], '0/2000000'));
  await enqueue('backfill-fb-1', request('fb', ['public.x'], '0/5000000'));
});

afterAll(async () => {
  await client?.destroy();
  await shutdownDbos();
  await stateDb?.drop();
});

test("every flow's hold from one DBOS query a second", async () => {
  const flows = ['fa', 'fb', 'fc', ...Array.from({ length: 197 }, (_, i) => `idle${i}`)];
  const spy = jest.spyOn(DBOS, 'listWorkflows');
  try {
    await new Promise((r) => setTimeout(r, 1100)); // past any hold read before
    spy.mockClear();
    const holds = await Promise.all(flows.map((f) => backfillHoldOf(f)));
    for (const f of flows) await backfillHoldOf(f); // the same second: from the cache
    expect(spy).toHaveBeenCalledTimes(1);

    expect(holds[0]).toEqual({ lsn: 0x2000000n, tables: new Set(['public.a', 'public.b', 'public.c']) });
    expect(holds[1]).toEqual({ lsn: 0x5000000n, tables: new Set(['public.x']) });
    expect(holds.slice(2).every((h) => h === null)).toBe(true);

    // A second later the holds are read again, once, and a cancelled backfill's hold is gone.
    await DBOS.cancelWorkflow('backfill-fb-1');
    spy.mockClear();
    await new Promise((r) => setTimeout(r, 1100));
    expect(await Promise.all(['fa', 'fb'].map((f) => backfillHoldOf(f)))).toEqual([
      { lsn: 0x2000000n, tables: new Set(['public.a', 'public.b', 'public.c']) },
      null,
    ]);
    expect(spy).toHaveBeenCalledTimes(1);
  } finally {
    spy.mockRestore();
  }
});
