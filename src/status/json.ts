import type { FlowStatus } from './model';

/** A status as plain JSON (snake_case, the proto's field names): CLI `-json`, the page's /api/flows. */
export type FlowStatusJson = Record<string, unknown>;

const iso = (d: Date | null | undefined): string | null => (d ? d.toISOString() : null);

export function flowStatusJson(s: FlowStatus): FlowStatusJson {
  return {
    flow_id: s.flowId,
    name: s.name,
    state: s.state,
    reason: s.reason,
    checkpoint_lsn: s.checkpointLsn,
    checkpoint_at: iso(s.checkpointAt),
    received_lsn: s.receivedLsn,
    slot: s.slot?.slot ?? null,
    slot_active: s.slot?.active ?? false,
    confirmed_flush_lsn: s.slot?.confirmedFlushLsn ?? null,
    restart_lsn: s.slot?.restartLsn ?? null,
    current_wal_lsn: s.slot?.currentWalLsn ?? null,
    lag_bytes: s.lagBytes,
    lag_seconds: s.lagSeconds,
    retained_wal_bytes: s.slot?.retainedWalBytes ?? 0,
    wal_status: s.slot?.walStatus ?? '',
    safe_wal_size: s.slot?.safeWalSize ?? null,
    slot_error: s.slot?.error ?? '',
    rows: s.rows.map((r) => ({ table: r.table, op: r.op, rows: r.rows, rows_per_second: Math.round(r.rowsPerSecond * 10) / 10 })),
    rows_total: s.rowsTotal,
    rows_per_second: s.rowsPerSecond,
    last_error: s.lastError,
    last_error_hint: s.lastErrorHint,
    last_error_at: iso(s.lastErrorAt),
    retries: s.retries,
    heartbeat_lsn: s.heartbeatLsn,
    heartbeat_at: iso(s.heartbeatAt),
    alarms: s.alarms.map((a) => ({ kind: a.kind, message: a.message })),
    runs: s.runs.map((r) => ({
      run_id: r.runId,
      status: r.status,
      created_at: iso(r.createdAt),
      updated_at: iso(r.updatedAt),
      executor_id: r.executorId,
      error: r.error ?? '',
      steps: r.steps.map((st) => ({
        function_id: st.functionId,
        name: st.name,
        error: st.error ?? '',
        started_at: iso(st.startedAt),
        completed_at: iso(st.completedAt),
      })),
    })),
    active_run_id: s.activeRunId,
    pending_ddl: s.pendingDdl,
    backfill: s.backfill.map((b) => ({ table: b.table, partitions_done: b.partitionsDone, partitions_total: b.partitionsTotal, rows: b.rows, state: b.state })),
    sampled_at: iso(s.sampledAt),
    last_applied_commit_time: iso(s.lastAppliedCommitTime),
  };
}

const texts = new WeakMap<FlowStatus, string>();

/** `JSON.stringify(flowStatusJson(s))`, kept per status object (statuses are not changed once built). */
export function flowStatusJsonText(s: FlowStatus): string {
  let t = texts.get(s);
  if (t === undefined) {
    t = JSON.stringify(flowStatusJson(s));
    texts.set(s, t);
  }
  return t;
}
