/**
 * The crash scenario, through the real pipeline: a PostgreSQL source, the worker binary (DBOS
 * flowRun), the destination under test. The worker is killed with SIGKILL after the checkpoint
 * moved but before the backlog is done, so some batches were written and not checkpointed; a
 * restart replays them. Then the destination must hold exactly the source's rows, every change
 * delivered at least once, duplicates identical. The flow runs with parallelism 4. Needs `npm run build` (dist/) like every test
 * that spawns a binary.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tableKey } from '../../src/core/change';
import { table } from '../support/changes';
import { testFlow, writeFlowFile } from '../support/flows';
import { createTestDatabase } from '../support/pg';
import { runWorker, spawnBin, WORKER_BIN } from '../support/worker';
import { canonicalRow, sortedRows } from './canonical';
import { checkEvents, stateOf } from './checks';
import type { ConformanceSubject } from './subject';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const TRANSACTIONS = 24;
const ROWS_PER_TX = 300;

/** Changes the backlog makes: every insert, an update per id%7 row and a delete per id%11 row of the earlier blocks. */
function backlogChangeCount(): number {
  const upTo = (TRANSACTIONS - 1) * ROWS_PER_TX;
  let n = TRANSACTIONS * ROWS_PER_TX;
  for (let id = 1; id <= upTo; id++) n += (id % 7 === 0 ? 1 : 0) + (id % 11 === 0 ? 1 : 0);
  return n;
}

export async function crashScenario(subject: ConformanceSubject): Promise<void> {
  const source = await createTestDatabase(`conf_crash_${subject.type}`);
  const state = await createTestDatabase(`conf_state_${subject.type}`);
  const dir = mkdtempSync(join(tmpdir(), 'ductstream-conf-crash-'));
  const target = await subject.target('crash', subject.formats?.[0]);
  const ledger = table('public.ledger', { id: 'int8', v: 'int8', note: 'text' }, { primaryKey: ['id'] });
  try {
    await source.query('CREATE TABLE public.ledger (id bigint PRIMARY KEY, v bigint NOT NULL, note text)');
    const flowId = `conf-crash-${subject.type}`;
    const flowFile = writeFlowFile(
      dir,
      testFlow({
        id: flowId,
        sourceDsn: source.dsn,
        slot: `${source.name}_slot`,
        publication: 'conf_crash_pub',
        tables: ['public.ledger'],
        sourceOptions: { batch_size: '250' },
        parallelism: 4,
        destinations: [{ name: 'dest', type: subject.type, options: target.options }],
      }),
    );
    const env = { DUCTSTREAM_POSTGRES_DSN: state.dsn, DUCTSTREAM_STEP_MAX_ROWS: '500', DUCTSTREAM_MAX_WRITE_ROWS: '500', DUCTSTREAM_PROGRESS_INTERVAL: '1' };
    const setup = await runWorker(['-flow-file', flowFile, '-max-empty-reads', '1'], env);
    expect({ code: setup.code, stderr: setup.code === 0 ? '' : setup.stderr }).toEqual({ code: 0, stderr: '' });

    for (let t = 0; t < TRANSACTIONS; t++) {
      const base = t * ROWS_PER_TX;
      await source.query(`BEGIN;
        INSERT INTO public.ledger SELECT g, g, 'n' || g FROM generate_series(${base + 1}, ${base + ROWS_PER_TX}) g;
        UPDATE public.ledger SET v = v + 1000000 WHERE id % 7 = 0 AND id > ${base - ROWS_PER_TX} AND id <= ${base};
        DELETE FROM public.ledger WHERE id % 11 = 0 AND id > ${base - ROWS_PER_TX} AND id <= ${base};
        COMMIT`);
    }
    const { end_lsn: backlogEnd } = (await source.query<{ end_lsn: string }>('SELECT pg_current_wal_lsn()::text AS end_lsn'))[0]!;
    const { lsn: initial } = (await state.query<{ lsn: string }>(`SELECT lsn::text AS lsn FROM ductstream.checkpoints WHERE flow_id = $1`, [flowId]))[0]!;

    const worker = spawnBin(WORKER_BIN, ['-flow-id', flowId], env);
    let killedInside = false;
    for (let i = 0; i < 1500 && !killedInside; i++) {
      const [ck] = await state.query<{ lsn: string }>(`SELECT lsn::text AS lsn FROM ductstream.checkpoints WHERE flow_id = $1`, [flowId]);
      const [cmp] = await source.query<{ inside: boolean }>('SELECT $1::pg_lsn < $2::pg_lsn AS inside', [ck!.lsn, backlogEnd]);
      if (ck!.lsn !== initial && cmp!.inside) killedInside = true;
      else await sleep(5);
    }
    worker.child.kill('SIGKILL');
    const killed = await worker.exited;
    expect(killedInside).toBe(true);
    expect(killed.signal).toBe('SIGKILL');

    const restart = await runWorker(['-flow-id', flowId, '-max-empty-reads', '2'], env);
    expect({ code: restart.code, stderr: restart.code === 0 ? '' : restart.stderr }).toEqual({ code: 0, stderr: '' });
    expect(restart.stderr).toContain('resuming an interrupted run');

    const srcRows = await source.query<{ id: string; v: string; note: string }>('SELECT id::text AS id, v::text AS v, note FROM public.ledger');
    const expected = sortedRows(
      srcRows.map((r) => canonicalRow({ id: BigInt(r.id), v: BigInt(r.v), note: r.note }, ledger)),
      ledger,
    );
    const back = await target.read([ledger]);
    if (back.shape === 'events') {
      const report = checkEvents(back.events, [ledger]);
      expect({
        distinct: report.distinct,
        inconsistentDuplicates: report.inconsistentDuplicates,
        sharedIds: report.sharedIds,
        outOfOrder: report.outOfOrder,
      }).toEqual({ distinct: backlogChangeCount(), inconsistentDuplicates: [], sharedIds: [], outOfOrder: [] });
    }
    const actual = stateOf(back, [ledger]).get(tableKey(ledger)) ?? [];
    expect(actual.length).toBe(expected.length);
    expect(actual).toEqual(expected);
  } finally {
    await target.dispose?.();
    await source.drop();
    await state.drop();
    rmSync(dir, { recursive: true, force: true });
  }
}
