import { DBOS } from '@dbos-inc/dbos-sdk';
import { progressIntervalMs, type ServiceEnv } from '../config/env';
import { describeError } from '../core/errors';
import type { Flow } from '../core/flow';
import type { Logger } from '../core/log';
import { releaseAllBackfillRuntimes } from '../pipeline/backfillRuntime';
import { activeBackfills } from '../services/backfill/start';
import { dbosReader, getBackfill } from '../services/backfill/status';
import { validateBackfill } from '../services/backfill/validate';
import { launchDbos } from '../workflows/dbos';
import type { BackfillResult } from '../workflows/backfill/types';
import { BACKFILL_RESULT_POLL_MS, backfillQueueName, backfillQueueOptions, newBackfillId } from '../workflows/backfill/types';
import { backfillWorkflow } from '../workflows/backfill/workflows';
import { BACKFILL_FLAG_OPTIONS, type BackfillModeArgs } from './backfillFlags';
import { backfillStatusLines } from './backfillProgress';
import { EXIT_FAILURE, EXIT_OK } from './exit';

const FLAG_OF: Record<string, string> = Object.fromEntries(Object.entries(BACKFILL_FLAG_OPTIONS).map(([f, o]) => [o, `-${f}`]));

/**
 * `ductstream-worker -mode backfill`: validates the request (bad input exits 2 before anything
 * starts), launches DBOS listening to the flow's backfill queue, then follows the flow's active
 * backfill (one interrupted by a crash is recovered at launch) or starts one, printing progress on
 * stderr, until it ends.
 */
export async function runBackfillMode(o: {
  prog: string;
  flow: Flow;
  env: ServiceEnv;
  args: BackfillModeArgs;
  executorId: string;
  systemDatabaseUrl: string;
  log: Logger;
}): Promise<number> {
  const fields = { tables: '-tables', option: (k: string) => FLAG_OF[k] ?? `source.options.${k}` };
  const request = await validateBackfill(o.flow, o.args.input, fields, o.log);
  await launchDbos({ env: o.env, executorId: o.executorId, systemDatabaseUrl: o.systemDatabaseUrl, log: o.log, listenQueues: [backfillQueueName(o.flow.id)] });
  await DBOS.registerQueue(backfillQueueName(o.flow.id), backfillQueueOptions(request.workers));
  const active = await activeBackfills(o.flow.id);
  let id: string;
  if (active.length > 0) {
    id = active[active.length - 1]!.workflowID;
    process.stderr.write(`${o.prog}: following the flow's active backfill ${id} (interrupted or started elsewhere)\n`);
  } else {
    id = newBackfillId(o.flow.id);
    await DBOS.startWorkflow(backfillWorkflow, { workflowID: id })(request);
    process.stderr.write(`${o.prog}: backfill ${id} started: ${request.tables.join(', ')} with ${request.workers} worker(s)\n`);
  }
  const intervalMs = progressIntervalMs();
  const report = async (): Promise<void> => {
    const s = await getBackfill(dbosReader, id).catch(() => null);
    if (s) for (const line of backfillStatusLines(s)) process.stderr.write(`${o.prog}: ${line}\n`);
  };
  const timer = setInterval(() => void report(), intervalMs);
  timer.unref();
  try {
    const result = await DBOS.retrieveWorkflow<BackfillResult>(id).getResult({ pollingIntervalMs: BACKFILL_RESULT_POLL_MS });
    clearInterval(timer);
    await report();
    process.stderr.write(
      `${o.prog}: backfill ${id} done: ${result.rows} rows in ${result.partitions} partition(s) at snapshot ${result.snapshotLsn}` +
        `${result.resolved > 0 ? `, staging resolved in ${result.resolved} destination(s)` : ''}\n`,
    );
    return EXIT_OK;
  } catch (e) {
    clearInterval(timer);
    await report();
    process.stderr.write(`${o.prog}: backfill ${id} failed: ${describeError(e)}\n`);
    return EXIT_FAILURE;
  } finally {
    await releaseAllBackfillRuntimes();
  }
}
