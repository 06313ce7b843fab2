/**
 * The one status model of a flow, shown by every surface: FlowService.GetFlowStatus and
 * ListFlowStatus, `ductstream-admin flow status`, the status web page and the metrics.
 * LSNs are `X/Y` text; byte counts and row counts are numbers (exact below 2^53).
 */

/** Rows delivered for one table and operation since the flow was created. */
export interface TableOpCount {
  /** `schema.table` */
  table: string;
  op: 'insert' | 'update' | 'delete' | 'truncate';
  rows: number;
  /** Recent rate, measured by the process that runs the flow; 0 when it is not running. */
  rowsPerSecond: number;
}

/** What the source server says about the flow's replication slot. */
export interface SlotStatus {
  slot: string;
  exists: boolean;
  active: boolean;
  confirmedFlushLsn: string | null;
  restartLsn: string | null;
  /** pg_current_wal_lsn() of the source when sampled. */
  currentWalLsn: string | null;
  /** current WAL − confirmed_flush_lsn: WAL the flow has not confirmed. */
  lagBytes: number;
  /** current WAL − restart_lsn: WAL the server keeps for this slot. */
  retainedWalBytes: number;
  /** reserved | extended | unreserved | lost (pg_replication_slots.wal_status); '' when unknown. */
  walStatus: string;
  /** Bytes that can still be written before the slot is in danger of losing WAL; null when unlimited. */
  safeWalSize: number | null;
  /** Set when the source could not be asked (secrets removed). */
  error?: string;
  sampledAt: Date;
}

export type AlarmKind = 'lag_bytes' | 'lag_seconds' | 'wal_status' | 'stall' | 'ddl_held';

export interface Alarm {
  kind: AlarmKind;
  /** One line for a person, e.g. `lag 2.1 GB exceeds lag_alarm_bytes 1 GB`. */
  message: string;
}

/** One DBOS step of a run (DBOS's own operation_outputs record). */
export interface RunStep {
  functionId: number;
  name: string;
  /** Set when the step failed (secrets removed). */
  error?: string;
  startedAt?: Date;
  completedAt?: Date;
}

/** One recent run: a DBOS `flowRun` workflow and, for the newest runs, its steps. */
export interface RunSummary {
  runId: string;
  status: string;
  createdAt: Date;
  updatedAt?: Date;
  executorId: string;
  error?: string;
  steps: RunStep[];
}

/**
 * Hooks for work that other parts of DuctStream add: pending DDL events and backfill progress.
 * Each is filled by a {@link StatusExtension} when that part exists; empty otherwise.
 */
export interface PendingDdl {
  id: string;
  table: string;
  ddl: string;
  status: string;
}

export interface BackfillProgress {
  table: string;
  partitionsDone: number;
  partitionsTotal: number;
  rows: number;
  state: string;
}

export interface FlowStatus {
  flowId: string;
  name: string;
  /**
   * created | running | paused | stopped | failed; `pending_ddl` for a running flow that holds a
   * table at a schema change waiting for a decision or an apply (see `DdlStatusExtension`).
   */
  state: string;
  /** Why: the flow's state_reason, or `retrying: <last error>` while retrying. */
  reason: string;
  checkpointLsn: string | null;
  checkpointAt: Date | null;
  /** Highest position the running stream received (from the process running the flow). */
  receivedLsn: string | null;
  slot: SlotStatus | null;
  lagBytes: number;
  /** now − commit time of the last applied change (or the last time the flow was caught up, if later); 0 when caught up. */
  lagSeconds: number;
  lastAppliedCommitTime: Date | null;
  rows: TableOpCount[];
  rowsTotal: number;
  rowsPerSecond: number;
  lastError: string;
  lastErrorHint: string;
  lastErrorAt: Date | null;
  /** Step attempts that failed and were retried, since the flow was created. */
  retries: number;
  heartbeatLsn: string | null;
  heartbeatAt: Date | null;
  alarms: Alarm[];
  /** Newest first; steps only for the newest runs; empty in list answers. */
  runs: RunSummary[];
  activeRunId: string;
  pendingDdl: PendingDdl[];
  backfill: BackfillProgress[];
  sampledAt: Date;
}

/** Adds what another part of DuctStream knows about flows (pending DDL, backfill) to their status. */
export interface StatusExtension {
  /** Fills its fields of each status in place; must not throw for a flow it knows nothing about. */
  extend(statuses: FlowStatus[]): Promise<void>;
}
