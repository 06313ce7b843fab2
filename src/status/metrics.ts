import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { FLOW_STATES } from '../core/flow';
import type { AlarmKind, FlowStatus } from './model';

/**
 * The Prometheus metrics of a process (`/metrics` of the server's HTTP listener and of
 * `ductstream-worker -metrics-listen`). Flow gauges are set from each status sample; the batch
 * duration histogram is observed by the data path of flows running in this process.
 */
export const metricsRegistry = new Registry();

const lagBytes = new Gauge({
  name: 'ductstream_flow_lag_bytes',
  help: 'WAL not yet confirmed by the flow: pg_current_wal_lsn() - confirmed_flush_lsn',
  labelNames: ['flow'],
  registers: [metricsRegistry],
});
const lagSeconds = new Gauge({
  name: 'ductstream_flow_lag_seconds',
  help: 'now - commit time of the last applied change; 0 when caught up',
  labelNames: ['flow'],
  registers: [metricsRegistry],
});
const rowsTotal = new Counter({
  name: 'ductstream_rows_total',
  help: 'Rows delivered to every destination',
  labelNames: ['flow', 'table', 'op'],
  registers: [metricsRegistry],
});
const batchDuration = new Histogram({
  name: 'ductstream_batch_duration_seconds',
  help: 'Time to write one batch to every destination of the flow',
  labelNames: ['flow'],
  buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  registers: [metricsRegistry],
});
const retainedWal = new Gauge({
  name: 'ductstream_slot_retained_wal_bytes',
  help: 'WAL the server keeps for the slot: pg_current_wal_lsn() - restart_lsn',
  labelNames: ['flow', 'slot'],
  registers: [metricsRegistry],
});
const retriesTotal = new Counter({
  name: 'ductstream_retries_total',
  help: 'Failed attempts that were retried',
  labelNames: ['flow'],
  registers: [metricsRegistry],
});
const flowState = new Gauge({
  name: 'ductstream_flow_state',
  help: '1 for the state the flow is in (retrying while a running flow retries), 0 for the others',
  labelNames: ['flow', 'state'],
  registers: [metricsRegistry],
});
const alarm = new Gauge({
  name: 'ductstream_flow_alarm',
  help: '1 while the alarm is raised (lag_bytes, lag_seconds, wal_status, stall, ddl_held)',
  labelNames: ['flow', 'kind'],
  registers: [metricsRegistry],
});

const STATES = [...FLOW_STATES, 'retrying', 'pending_ddl'] as const;
const ALARMS: AlarmKind[] = ['lag_bytes', 'lag_seconds', 'wal_status', 'stall', 'ddl_held'];

/** Called by the data path after a batch is durable in every destination. */
export function observeBatchDuration(flowId: string, seconds: number): void {
  batchDuration.observe({ flow: flowId }, seconds);
}

/** Sets every flow metric from a status sample (flows no longer present disappear). */
export function updateFlowMetrics(statuses: readonly FlowStatus[]): void {
  for (const m of [lagBytes, lagSeconds, retainedWal, flowState, alarm]) m.reset();
  rowsTotal.reset();
  retriesTotal.reset();
  for (const s of statuses) {
    const flow = s.flowId;
    lagBytes.set({ flow }, s.lagBytes);
    lagSeconds.set({ flow }, s.lagSeconds);
    if (s.slot) retainedWal.set({ flow, slot: s.slot.slot }, s.slot.retainedWalBytes);
    for (const r of s.rows) rowsTotal.inc({ flow, table: r.table, op: r.op }, r.rows);
    retriesTotal.inc({ flow }, s.retries);
    const current = s.reason.startsWith('retrying:') && s.state === 'running' ? 'retrying' : s.state;
    for (const st of STATES) flowState.set({ flow, state: st }, st === current ? 1 : 0);
    for (const k of ALARMS) alarm.set({ flow, kind: k }, s.alarms.some((a) => a.kind === k) ? 1 : 0);
  }
}
