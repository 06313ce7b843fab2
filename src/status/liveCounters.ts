import { tableKey, type Change, type ChangeOp, type TableRef } from '../core/change';
import type { Lsn } from '../core/lsn';

/**
 * Live counters of the flows this process runs, fed by the data path (FlowRuntime) and read by
 * the stats publisher, which persists them so every process (API server, admin CLI) sees the
 * same numbers. Cheap: a few map updates per batch, no I/O.
 */
export interface LiveFlowCounters {
  flowId: string;
  /** `schema.table\top` → rows delivered and not yet persisted. */
  unflushed: Map<string, number>;
  /** `schema.table\top` → rows/s over the last publish interval. */
  rates: Map<string, number>;
  /** Rows delivered since the previous rate computation, per key. */
  sinceRate: Map<string, number>;
  receivedLsn: Lsn;
  /** Commit time (ms) of the last change written to every destination. */
  lastAppliedCommitMs: number | null;
  /** The last time (ms) a poll found nothing after the stream had caught up with the server. */
  caughtUpAtMs: number | null;
  /** Retried failures not yet persisted. */
  unflushedRetries: number;
  lastError: string;
  lastErrorHint: string;
  lastErrorAtMs: number | null;
  heartbeatLsn: Lsn | null;
  heartbeatAtMs: number | null;
  /** True when something changed since the last publish. */
  dirty: boolean;
}

const counters = new Map<string, LiveFlowCounters>();

export function liveCountersOf(flowId: string): LiveFlowCounters {
  let c = counters.get(flowId);
  if (!c) {
    c = {
      flowId,
      unflushed: new Map(),
      rates: new Map(),
      sinceRate: new Map(),
      receivedLsn: 0n,
      lastAppliedCommitMs: null,
      caughtUpAtMs: null,
      unflushedRetries: 0,
      lastError: '',
      lastErrorHint: '',
      lastErrorAtMs: null,
      heartbeatLsn: null,
      heartbeatAtMs: null,
      dirty: false,
    };
    counters.set(flowId, c);
  }
  return c;
}

/** Every flow with counters in this process. */
export function allLiveCounters(): LiveFlowCounters[] {
  return [...counters.values()];
}

export function countKey(table: TableRef, op: ChangeOp): string {
  return `${tableKey(table)}\t${op}`;
}

function add(m: Map<string, number>, k: string, n: number): void {
  m.set(k, (m.get(k) ?? 0) + n);
}

/** Records changes that are now durable in every destination of the flow. */
export function recordDelivered(flowId: string, changes: readonly Change[], receivedLsn: Lsn): void {
  if (changes.length === 0) return;
  const c = liveCountersOf(flowId);
  let ref: TableRef | undefined;
  let op: ChangeOp | undefined;
  let run = 0;
  const flush = (): void => {
    if (ref && op && run > 0) {
      const k = countKey(ref, op);
      add(c.unflushed, k, run);
      add(c.sinceRate, k, run);
    }
  };
  for (const ch of changes) {
    if (ch.table !== ref || ch.op !== op) {
      flush();
      ref = ch.table;
      op = ch.op;
      run = 0;
    }
    run++;
  }
  flush();
  const last = changes[changes.length - 1]!;
  c.lastAppliedCommitMs = Number(last.commitTimeMicros / 1000n);
  if (receivedLsn > c.receivedLsn) c.receivedLsn = receivedLsn;
  c.dirty = true;
}

/** The stream had nothing to deliver: the flow is caught up as of now. */
export function recordCaughtUp(flowId: string, receivedLsn: Lsn): void {
  const c = liveCountersOf(flowId);
  c.caughtUpAtMs = Date.now();
  if (receivedLsn > c.receivedLsn) c.receivedLsn = receivedLsn;
  c.dirty = true;
}

/** A step failed and will be retried (or the flow fails): counts it and keeps the error and its hint. */
export function recordFailure(flowId: string, error: string, hint: string): void {
  const c = liveCountersOf(flowId);
  c.unflushedRetries++;
  c.lastError = error;
  c.lastErrorHint = hint;
  c.lastErrorAtMs = Date.now();
  c.dirty = true;
}

export function recordHeartbeat(flowId: string, lsn: Lsn): void {
  const c = liveCountersOf(flowId);
  c.heartbeatLsn = lsn;
  c.heartbeatAtMs = Date.now();
  c.dirty = true;
}

/** Recomputes rows/s per key from what was delivered since the last call `elapsedMs` ago. */
export function rollRates(c: LiveFlowCounters, elapsedMs: number): void {
  const seconds = Math.max(elapsedMs, 1) / 1000;
  const hadRate = [...c.rates.values()].some((r) => r > 0);
  for (const k of c.rates.keys()) if (!c.sinceRate.has(k)) c.rates.set(k, 0);
  for (const [k, n] of c.sinceRate) c.rates.set(k, n / seconds);
  if (c.sinceRate.size > 0 || hadRate) c.dirty = true;
  c.sinceRate.clear();
}
