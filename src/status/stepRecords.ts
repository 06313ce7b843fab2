import { Pool } from 'pg';

/** A step record as DBOS lists it (`listWorkflowSteps`), without its output. */
export interface StepRecord {
  functionID: number;
  name: string;
  error: Error | null;
  startedAtEpochMs?: number;
  completedAtEpochMs?: number;
}

/**
 * Read-only SQL on DBOS's system database (a pg Pool or Client): one statement per call, no
 * transaction, rows as node pg returns them.
 */
export interface SystemDbQuery {
  query(text: string, values: unknown[]): Promise<{ rows: unknown[] }>;
}

/**
 * The part of DBOS (in process) or DBOSClient that lists step records with their deserialized
 * errors: `offset` steps skipped and at most `limit` returned, ascending by function id, or
 * undefined when the workflow does not exist.
 */
export interface StepLister {
  listWorkflowSteps(workflowID: string, options?: { limit?: number; offset?: number }): Promise<StepRecord[] | undefined>;
}

/** DBOS's system schema (the default: DuctStream does not set `systemDatabaseSchemaName`). */
const SCHEMA = 'dbos';

interface StepRow {
  function_id: number;
  function_name: string | null;
  failed: boolean;
  started_at_epoch_ms: string | null;
  completed_at_epoch_ms: string | null;
}

/**
 * The newest `n` step records of a workflow, ascending by function id, the same records DBOS's
 * `listWorkflowSteps` returns for them. DBOS 5 reads a workflow's steps ascending and
 * deserializes every step's output, so the last steps of a long run cost the whole run; this reads
 * only the newest `n` rows of `operation_outputs` (its primary key backwards) without outputs.
 * An error is deserialized by DBOS itself: when one of those steps failed, DBOS lists exactly
 * those `n` steps (offset = the run's earlier steps, counted on the index). Steps are only ever
 * appended, so a step recorded meanwhile falls outside that window.
 */
export async function newestSteps(db: SystemDbQuery, dbos: StepLister, workflowId: string, n: number): Promise<StepRecord[]> {
  const { rows } = await db.query(
    `SELECT function_id, function_name, error IS NOT NULL AS failed, started_at_epoch_ms, completed_at_epoch_ms
       FROM "${SCHEMA}".operation_outputs WHERE workflow_uuid = $1 ORDER BY function_id DESC LIMIT $2`,
    [workflowId, n],
  );
  const newest = (rows as StepRow[]).reverse();
  const errors = new Map<number, Error | null>();
  if (newest.some((r) => r.failed)) {
    const first = newest[0]!.function_id;
    const { rows: before } = await db.query(`SELECT count(*)::int AS n FROM "${SCHEMA}".operation_outputs WHERE workflow_uuid = $1 AND function_id < $2`, [
      workflowId,
      first,
    ]);
    const offset = (before[0] as { n: number }).n;
    for (const s of (await dbos.listWorkflowSteps(workflowId, { offset, limit: newest.length })) ?? []) errors.set(s.functionID, s.error);
  }
  return newest.map((r) => ({
    functionID: r.function_id,
    name: r.function_name ?? '',
    error: r.failed ? (errors.get(r.function_id) ?? new Error('step failed (its error was not readable)')) : null,
    startedAtEpochMs: r.started_at_epoch_ms ? Number(r.started_at_epoch_ms) : undefined,
    completedAtEpochMs: r.completed_at_epoch_ms ? Number(r.completed_at_epoch_ms) : undefined,
  }));
}

/**
 * A small pool on DBOS's system database for {@link newestSteps} in a long-running process (server,
 * worker) or the admin CLI; end it with `end()`. Connection errors of idle clients are ignored (the
 * next query reconnects or fails on its own).
 */
export function systemDbPool(url: string): Pool {
  const pool = new Pool({ connectionString: url, max: 2, idleTimeoutMillis: 30_000, application_name: 'ductstream-status', allowExitOnIdle: true });
  pool.on('error', () => undefined);
  return pool;
}
