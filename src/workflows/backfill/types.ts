import type { PartitionTask } from '../../source/postgres/snapshot/partitions';

/** What a backfill is asked to do (the workflow's input: serializable, tables already validated). */
export interface BackfillRequest {
  flowId: string;
  /** `schema.table` of every table, resolved and checked by {@link validateBackfill}. */
  tables: string[];
  /** snapshot_workers: the concurrency of the flow's backfill queue. */
  workers: number;
  partitionColumn?: string;
  partitionCount: number;
  consistent: boolean;
  /** -resolve-staging: resolve staged tables at the end (batch_resolution, or `append` when it is none). */
  resolveStaging: boolean;
  /** -resync: a reload; with staging, resolved by `replace` (atomic for readers). */
  resync: boolean;
  /** The source's WAL insert position when the backfill was started: the flow's stream holds its tables from here (X/Y). */
  holdLsn: string;
}

/** The snapshot a backfill reads, as recorded by its plan step. */
export interface SnapshotRef {
  name: string | null;
  lsn: string;
  timeMicros: string;
  /**
   * The position snapshot rows are written at: just below the request's hold LSN, the point from
   * which the flow's stream replays the tables' changes after the backfill. Every change the
   * snapshot might not reflect (a delete committed between the hold and the snapshot, anything after
   * it, and on the crash path anything before a fresh snapshot) is at or after the hold, so it is
   * applied over the snapshot rows; changes before the hold are skipped. Absent in plans of older
   * versions: `lsn`.
   */
  rowsLsn?: string;
}

export interface PlannedPartition {
  /** Child workflow id. */
  id: string;
  label: string;
  task: PartitionTask;
}

export interface BackfillPlan {
  snapshot: SnapshotRef;
  queueName: string;
  /** `partitioning`: `range(col)`, `hash(col)`, `blocks` or `whole` (absent in plans of older versions). */
  tables: Array<{ table: string; estimatedRows: number | null; partitions: number; partitioning?: string }>;
  partitions: PlannedPartition[];
  startedAtMs: number;
}

/** Progress of one partition (DBOS event `progress` of its workflow, set after each chunk). */
export interface PartitionProgress {
  rows: number;
  chunksDone: number;
  chunks: number;
}

export interface BackfillResult {
  flowId: string;
  rows: number;
  partitions: number;
  snapshotLsn: string;
  /** Destinations whose staging tables were resolved. */
  resolved: number;
}

export const BACKFILL_WORKFLOW = 'backfill';
export const BACKFILL_PARTITION_WORKFLOW = 'backfillPartition';
export const PLAN_EVENT = 'plan';
export const PROGRESS_EVENT = 'progress';

/** Every backfill of a flow has an id with this prefix: `backfill-<flow>-<ms>`. */
export function backfillIdPrefix(flowId: string): string {
  return `backfill-${flowId}-`;
}

export function newBackfillId(flowId: string, now = Date.now()): string {
  return `${backfillIdPrefix(flowId)}${now}`;
}

const BACKFILL_ID = /^backfill-(.+)-\d+$/;

/** The request a backfill workflow was started with (its first argument), from its DBOS status. */
export function requestOfBackfill(w: { input?: unknown }): BackfillRequest | undefined {
  return Array.isArray(w.input) ? (w.input[0] as BackfillRequest | undefined) : undefined;
}

/** The flow of a backfill id, or null when the id is not a backfill's. */
export function flowIdOfBackfill(id: string): string | null {
  return BACKFILL_ID.exec(id)?.[1] ?? null;
}

/**
 * How often a process polls a backfill queue for partitions at least (DBOS's default is 1 s): a
 * partition starts at most this long after it is queued or a worker frees up, which at 1 s cost a
 * 1M-row backfill a fifth of its time. DBOS backs off on its own under contention.
 */
export const BACKFILL_QUEUE_POLL_MS = 100;

/** How often the parent polls its partitions for their results (DBOS's default is 1 s). */
export const BACKFILL_RESULT_POLL_MS = 100;

/** Options of the flow's backfill queue: concurrency `workers`, polled every {@link BACKFILL_QUEUE_POLL_MS}. */
export function backfillQueueOptions(workers: number): { concurrency: number; minPollingIntervalMs: number; onConflict: 'always_update' } {
  return { concurrency: workers, minPollingIntervalMs: BACKFILL_QUEUE_POLL_MS, onConflict: 'always_update' };
}

/** The DBOS queue of a flow's backfill partitions; its concurrency is the flow's snapshot_workers. */
export function backfillQueueName(flowId: string): string {
  return `ductstream-backfill-${flowId}`;
}
