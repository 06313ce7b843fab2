import { formatBytes as bytes } from '../core/bytes';
import type { MonitoringConfig } from '../source/postgres/config';
import type { Alarm, FlowStatus } from './model';

/** A status read within this long of the flow's last empty poll counts as caught up. */
export const CAUGHT_UP_FRESH_MS = 6000;

/**
 * Lag in seconds: 0 when the slot has nothing unconfirmed or the running flow found nothing to
 * read moments ago; otherwise now minus the commit time of the last applied change, or minus the
 * last time the flow was caught up when that is later (both bound the oldest unapplied change).
 */
export function lagSecondsOf(o: { lagBytes: number; state: string; lastAppliedCommitAt: Date | null; caughtUpAt: Date | null; now: Date }): number {
  if (o.lagBytes === 0) return 0;
  const now = o.now.getTime();
  const caughtUp = o.caughtUpAt?.getTime() ?? null;
  if (o.state === 'running' && caughtUp !== null && now - caughtUp <= CAUGHT_UP_FRESH_MS) return 0;
  const ref = Math.max(o.lastAppliedCommitAt?.getTime() ?? 0, caughtUp ?? 0);
  if (ref === 0) return 0;
  return Math.max(0, Math.round((now - ref) / 100) / 10);
}

/**
 * The alarms of a flow's status under its monitoring options: lag over `lag_alarm_bytes` or
 * `lag_alarm_seconds`, a slot whose WAL is `unreserved` or `lost`, and a running flow whose
 * checkpoint has not moved for `stall_alarm` while WAL waits for it.
 */
export function alarmsOf(s: FlowStatus, m: MonitoringConfig, now: Date): Alarm[] {
  const out: Alarm[] = [];
  if (m.lagAlarmBytes > 0 && s.lagBytes > m.lagAlarmBytes) {
    out.push({ kind: 'lag_bytes', message: `lag ${bytes(s.lagBytes)} exceeds lag_alarm_bytes ${bytes(m.lagAlarmBytes)}` });
  }
  if (m.lagAlarmSeconds > 0 && s.lagSeconds > m.lagAlarmSeconds) {
    out.push({ kind: 'lag_seconds', message: `lag ${s.lagSeconds}s exceeds lag_alarm_seconds ${m.lagAlarmSeconds}s` });
  }
  const ws = s.slot?.walStatus ?? '';
  if (ws === 'unreserved' || ws === 'lost') {
    out.push({
      kind: 'wal_status',
      message:
        ws === 'lost'
          ? `slot ${s.slot?.slot} has lost required WAL (wal_status=lost): the flow cannot continue from it; recreate the slot and backfill`
          : `slot ${s.slot?.slot} is past max_slot_wal_keep_size (wal_status=unreserved): WAL will be removed at the next checkpoint unless the flow catches up`,
    });
  }
  if (m.stallAlarmMs > 0 && s.state === 'running' && s.lagBytes > 0 && s.checkpointAt !== null) {
    const still = now.getTime() - s.checkpointAt.getTime();
    if (still > m.stallAlarmMs) {
      out.push({
        kind: 'stall',
        message: `checkpoint has not advanced for ${Math.round(still / 1000)}s (stall_alarm ${m.stallAlarmMs / 1000}s) while ${bytes(s.lagBytes)} of WAL wait`,
      });
    }
  }
  return out;
}
