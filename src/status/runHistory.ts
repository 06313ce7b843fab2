import type { WorkflowStatus } from '@dbos-inc/dbos-sdk';
import { describeError } from '../core/errors';
import { FLOW_RUN_WORKFLOW } from '../workflows/flowRun';
import { ACTIVE_STATUSES } from '../workflows/activeStatuses';
import { flowIdOfRun, runIdPrefix } from '../workflows/runIds';
import type { RunSummary } from './model';
import { newestSteps, systemDbPool, type StepLister, type StepRecord, type SystemDbQuery } from './stepRecords';

export type { StepRecord, SystemDbQuery } from './stepRecords';

/**
 * The part of DBOS (in process) or DBOSClient (admin CLI) that reads workflow and step records:
 * `listWorkflows` as DBOS documents it, and {@link StepLister.listWorkflowSteps}.
 */
export interface WorkflowReader extends StepLister {
  listWorkflows(input: {
    workflowName?: string;
    workflow_id_prefix?: string;
    status?: string[];
    limit?: number;
    sortDesc?: boolean;
    loadInput?: boolean;
    loadOutput?: boolean;
  }): Promise<WorkflowStatus[]>;
}

/** Steps shown per run (the newest ones). */
export const STEPS_SHOWN = 20;

/**
 * Recent runs of flows and their steps, from DBOS's own workflow and step records. Read-only.
 * Steps are read from DBOS's system tables on `sysdb` (the newest ones only, see
 * {@link newestSteps}); `close` ends `sysdb` when this history owns it.
 */
export class RunHistory {
  constructor(
    private readonly dbos: WorkflowReader,
    private readonly sysdb: SystemDbQuery,
    private readonly release: () => Promise<void> = async () => undefined,
  ) {}

  async close(): Promise<void> {
    await this.release();
  }

  /** The newest `runs` runs of a flow; the newest `withSteps` of them with their last steps. */
  async recent(flowId: string, runs = 5, withSteps = 1): Promise<RunSummary[]> {
    const rows = await this.dbos.listWorkflows({
      workflowName: FLOW_RUN_WORKFLOW,
      workflow_id_prefix: runIdPrefix(flowId),
      sortDesc: true,
      limit: runs * 4,
      loadInput: false,
      loadOutput: false,
    });
    const mine = rows.filter((w) => flowIdOfRun(w.workflowID) === flowId).slice(0, runs);
    return Promise.all(mine.map(async (w, i) => ({ ...summaryOf(w), steps: i < withSteps ? await this.steps(w.workflowID) : [] })));
  }

  /** Flow id → its active run id, for every flow with one. */
  async active(): Promise<Map<string, string>> {
    const rows = await this.dbos.listWorkflows({
      workflowName: FLOW_RUN_WORKFLOW,
      status: [...ACTIVE_STATUSES],
      loadInput: false,
      loadOutput: false,
      sortDesc: true,
    });
    const out = new Map<string, string>();
    for (const w of rows) {
      const f = flowIdOfRun(w.workflowID);
      if (f !== null && !out.has(f)) out.set(f, w.workflowID);
    }
    return out;
  }

  private async steps(runId: string): Promise<RunSummary['steps']> {
    const steps = await newestSteps(this.sysdb, this.dbos, runId, STEPS_SHOWN);
    return steps.map((s) => ({
      functionId: s.functionID,
      name: s.name,
      error: s.error ? describeError(s.error) : undefined,
      startedAt: s.startedAtEpochMs !== undefined ? new Date(s.startedAtEpochMs) : undefined,
      completedAt: s.completedAtEpochMs !== undefined ? new Date(s.completedAtEpochMs) : undefined,
    }));
  }
}

function summaryOf(w: WorkflowStatus): Omit<RunSummary, 'steps'> {
  return {
    runId: w.workflowID,
    status: w.status,
    createdAt: new Date(w.createdAt),
    updatedAt: w.updatedAt ? new Date(w.updatedAt) : undefined,
    executorId: w.executorId ?? '',
    error: w.error !== undefined && w.error !== null ? describeError(w.error) : undefined,
  };
}

/** The in-process DBOS (server, worker) as a {@link WorkflowReader}. */
export function dbosWorkflowReader(dbos: {
  listWorkflows(input: never): Promise<WorkflowStatus[]>;
  listWorkflowSteps(id: string, o?: { limit?: number; offset?: number }): Promise<StepRecord[] | undefined>;
}): WorkflowReader {
  return {
    listWorkflows: (input) => dbos.listWorkflows(input as never),
    listWorkflowSteps: (id, o) => dbos.listWorkflowSteps(id, o),
  };
}

/** A {@link RunHistory} reading steps through a pool of its own on `systemDatabaseUrl`, ended by `close`. */
export function runHistoryOn(reader: WorkflowReader, systemDatabaseUrl: string): RunHistory {
  const pool = systemDbPool(systemDatabaseUrl);
  return new RunHistory(reader, pool, () => pool.end());
}
