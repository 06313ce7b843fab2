import { DBOS } from '@dbos-inc/dbos-sdk';
import { describeError } from '../core/errors';
import type { Logger } from '../core/log';
import type { ExecutorPresence } from './executorPresence';
import { FLOW_RUN_WORKFLOW } from './flowRun';

/** The part of DBOS's executor this module uses: recovery of an executor's PENDING workflows. */
interface DbosRecovery {
  DBOSExecutor: { globalInstance?: { recoverPendingWorkflows(executorIDs: string[]): Promise<unknown[]> } };
}

/**
 * Re-enqueues the PENDING workflows of `executorId` that this application version can run, exactly
 * as DBOS's own recovery at launch does for the launching executor (one conditional UPDATE: only rows
 * still PENDING under that executor, so two servers never both take one run). Each continues from its
 * last recorded step on its own queue (flow runs of servers: the service queue), or on DBOS's internal
 * queue when it had none (a worker's runs). DBOS 5.3 has this on its executor only, not on `DBOS`.
 */
async function recoverExecutor(executorId: string): Promise<number> {
  const internal = require('@dbos-inc/dbos-sdk/internal/dbos-executor') as DbosRecovery;
  const exec = internal.DBOSExecutor.globalInstance;
  if (!exec) throw new Error('DBOS is not launched');
  return (await exec.recoverPendingWorkflows([executorId])).length;
}

export interface TakeoverOptions {
  presence: ExecutorPresence;
  /** This process's executor ID and application version. */
  executorId: string;
  appVersion: string;
  /** An executor must be seen absent for this long (ms) before its runs are taken over. */
  afterMs: number;
  log: Logger;
}

/**
 * Takes over the flow runs of executors that are gone (a crashed server or worker, often under an
 * executor ID that never comes back, e.g. `server@<container hostname>`), so their flows do not
 * stay stopped behind a PENDING run that nobody executes. An executor counts as gone once its
 * presence lock (executorPresence.ts) has been absent in every check for `afterMs`, long enough for
 * live processes to take their locks again after a database restart. Runs of this application
 * version are recovered as DBOS recovers its own (same run, next step); runs of another version,
 * which this process cannot replay, are cancelled so that a fresh run continues from the checkpoint.
 */
export class RunTakeover {
  private readonly absentSince = new Map<string, number>();

  constructor(private readonly o: TakeoverOptions) {}

  /** One check; call it periodically (the run supervisor does). Never throws. */
  async tick(now = Date.now()): Promise<void> {
    try {
      const pending = await DBOS.listWorkflows({ workflowName: FLOW_RUN_WORKFLOW, status: 'PENDING', loadInput: false, loadOutput: false });
      const others = new Set(pending.map((w) => w.executorId ?? '').filter((id) => id !== '' && id !== this.o.executorId));
      for (const id of [...this.absentSince.keys()]) if (!others.has(id)) this.absentSince.delete(id);
      for (const executor of others) {
        if (await this.o.presence.isPresent(executor)) {
          this.absentSince.delete(executor);
          continue;
        }
        const since = this.absentSince.get(executor) ?? now;
        this.absentSince.set(executor, since);
        if (now - since < this.o.afterMs) continue;
        const runs = pending.filter((w) => w.executorId === executor);
        const recovered = await recoverExecutor(executor);
        const stale = runs.filter((w) => w.applicationVersion !== undefined && w.applicationVersion !== this.o.appVersion);
        for (const w of stale) await DBOS.cancelWorkflow(w.workflowID);
        this.o.log.warn('took over the runs of a gone executor', {
          executor,
          gone_for_ms: now - since,
          runs: runs.map((w) => w.workflowID).join(','),
          recovered,
          cancelled_other_version: stale.length,
        });
        this.absentSince.delete(executor);
      }
    } catch (e) {
      this.o.log.warn('run takeover: could not check executors', { error: describeError(e) });
    }
  }

  /**
   * For a worker that finds its flow's run PENDING under another executor: waits while that executor
   * stays absent, and after `afterMs` of absence takes its runs over (returns true). Returns false
   * as soon as the executor shows up alive (its process is executing the run).
   */
  async takeOverWhenGone(executor: string): Promise<boolean> {
    if (executor === this.o.executorId) return false;
    const since = Date.now();
    while (!(await this.o.presence.isPresent(executor).catch(() => true))) {
      if (Date.now() - since >= this.o.afterMs) {
        const recovered = await recoverExecutor(executor);
        this.o.log.warn('took over the runs of a gone executor', { executor, gone_for_ms: Date.now() - since, recovered });
        return true;
      }
      await new Promise((r) => setTimeout(r, 500));
    }
    return false;
  }
}
