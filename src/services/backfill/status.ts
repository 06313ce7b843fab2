import { DBOS, type DBOSClient, type GetWorkflowsInput, type WorkflowStatus } from '@dbos-inc/dbos-sdk';
import { describeError } from '../../core/errors';
import {
  BACKFILL_WORKFLOW,
  PLAN_EVENT,
  PROGRESS_EVENT,
  backfillIdPrefix,
  flowIdOfBackfill,
  requestOfBackfill,
  type BackfillPlan,
  type BackfillResult,
  type PartitionProgress,
} from '../../workflows/backfill/types';

/** What status queries need from DBOS: the in-process `DBOS` (server, worker) or a `DBOSClient` (admin CLI). */
export interface WorkflowReader {
  listWorkflows(input: GetWorkflowsInput): Promise<WorkflowStatus[]>;
  getStatus(id: string): Promise<WorkflowStatus | null>;
  /** The event's value now (no waiting, one read), or null. */
  getEvent<T>(id: string, key: string): Promise<T | null>;
  cancel(id: string): Promise<void>;
}

/**
 * The getEvent options of {@link WorkflowReader.getEvent}: one read, no waiting. DBOS reads until
 * the deadline passes; with a zero timeout the deadline is the millisecond of the call, and a read
 * that returns within that millisecond is made again, so a status read would cost one round trip or
 * two by chance. A deadline already past ends the wait after the first read, found or not.
 */
export const READ_EVENT_NOW = { timeoutSeconds: -1 };

export const dbosReader: WorkflowReader = {
  listWorkflows: (i) => DBOS.listWorkflows(i),
  getStatus: (id) => DBOS.getWorkflowStatus(id),
  getEvent: <T>(id: string, key: string) => DBOS.getEvent<T>(id, key, READ_EVENT_NOW),
  cancel: (id) => DBOS.cancelWorkflow(id),
};

export function clientReader(c: DBOSClient): WorkflowReader {
  return {
    listWorkflows: (i) => c.listWorkflows(i),
    getStatus: (id) => c.retrieveWorkflow(id).getStatus(),
    getEvent: <T>(id: string, key: string) => c.getEvent<T>(id, key, READ_EVENT_NOW),
    cancel: (id) => c.cancelWorkflow(id),
  };
}

export interface TableProgress {
  table: string;
  rowsDone: number;
  /** `pg_class.reltuples` when planned; null when the table was never analyzed. */
  estimatedRows: number | null;
  partitions: number;
  partitionsDone: number;
  /** How the table is split: `range(col)`, `hash(col)`, `blocks`, `whole`; empty before the plan. */
  partitioning: string;
}

/** One backfill as GetBackfill, ListBackfills and `backfill status` show it. */
export interface BackfillStatus {
  backfillId: string;
  flowId: string;
  /** DBOS status of the backfill workflow: PENDING (running), ENQUEUED, SUCCESS, ERROR, CANCELLED... */
  status: string;
  tables: TableProgress[];
  rowsDone: number;
  estimatedRows: number | null;
  rowsPerSecond: number;
  /** Seconds left at the current rate; null when unknown. */
  etaSeconds: number | null;
  snapshotLsn: string;
  consistent: boolean;
  startedAt: Date;
  updatedAt?: Date;
  error?: string;
}

/** The status of a backfill, from its workflow, its plan and its partitions' progress events. */
export async function backfillStatusOf(r: WorkflowReader, s: WorkflowStatus): Promise<BackfillStatus> {
  const input = requestOfBackfill(s);
  const flowId = input?.flowId ?? flowIdOfBackfill(s.workflowID) ?? '';
  const plan = await r.getEvent<BackfillPlan>(s.workflowID, PLAN_EVENT);
  const tables = new Map<string, TableProgress>();
  for (const t of plan?.tables ?? (input?.tables ?? []).map((table) => ({ table, estimatedRows: null, partitions: 0 }))) {
    const partitioning = 'partitioning' in t ? (t.partitioning ?? '') : '';
    tables.set(t.table, { table: t.table, rowsDone: 0, estimatedRows: t.estimatedRows, partitions: t.partitions, partitionsDone: 0, partitioning });
  }
  const progress = await Promise.all((plan?.partitions ?? []).map((p) => r.getEvent<PartitionProgress>(p.id, PROGRESS_EVENT)));
  (plan?.partitions ?? []).forEach((p, i) => {
    const t = tables.get(`${p.task.table.schema}.${p.task.table.name}`);
    const g = progress[i];
    if (!t || !g) return;
    t.rowsDone += g.rows;
    if (g.chunksDone >= g.chunks) t.partitionsDone++;
  });
  const out = (s.status === 'SUCCESS' ? s.output : undefined) as BackfillResult | undefined;
  const list = [...tables.values()];
  const rowsDone = list.reduce((a, t) => a + t.rowsDone, 0);
  const estimated = list.every((t) => t.estimatedRows !== null) ? list.reduce((a, t) => a + (t.estimatedRows ?? 0), 0) : null;
  const started = plan?.startedAtMs ?? s.createdAt;
  const end = s.status === 'PENDING' || s.status === 'ENQUEUED' ? Date.now() : (s.updatedAt ?? Date.now());
  const seconds = Math.max(0.001, (end - started) / 1000);
  const rate = rowsDone / seconds;
  const left = estimated === null ? null : Math.max(0, estimated - rowsDone);
  const status: BackfillStatus = {
    backfillId: s.workflowID,
    flowId,
    status: s.status,
    tables: list,
    rowsDone: out?.rows ?? rowsDone,
    estimatedRows: estimated,
    rowsPerSecond: Math.round(rate),
    etaSeconds: s.status !== 'PENDING' ? 0 : left === null || rate <= 0 ? null : Math.round(left / rate),
    snapshotLsn: plan?.snapshot.lsn ?? '',
    consistent: input?.consistent ?? false,
    startedAt: new Date(s.createdAt),
  };
  if (s.updatedAt) status.updatedAt = new Date(s.updatedAt);
  if (s.error !== undefined && s.error !== null) status.error = describeError(s.error);
  return status;
}

/** Backfills of a flow (every flow when empty), newest first. */
export async function listBackfills(r: WorkflowReader, flowId: string, limit = 50): Promise<BackfillStatus[]> {
  const rows = await r.listWorkflows({
    workflowName: BACKFILL_WORKFLOW,
    ...(flowId ? { workflow_id_prefix: backfillIdPrefix(flowId) } : {}),
    sortDesc: true,
    limit,
  });
  const mine = rows.filter((w) => !flowId || flowIdOfBackfill(w.workflowID) === flowId);
  return Promise.all(mine.map((w) => backfillStatusOf(r, w)));
}

export async function getBackfill(r: WorkflowReader, backfillId: string): Promise<BackfillStatus | null> {
  const s = await r.getStatus(backfillId);
  if (!s || s.workflowName !== BACKFILL_WORKFLOW) return null;
  return backfillStatusOf(r, s);
}

/** Cancels a backfill and its partitions (they stop at their next step; done chunks stay written). */
export async function cancelBackfill(r: WorkflowReader, backfillId: string): Promise<boolean> {
  const s = await r.getStatus(backfillId);
  if (!s || s.workflowName !== BACKFILL_WORKFLOW) return false;
  await r.cancel(backfillId);
  const plan = await r.getEvent<BackfillPlan>(backfillId, PLAN_EVENT);
  for (const p of plan?.partitions ?? []) await r.cancel(p.id).catch(() => undefined);
  return true;
}
