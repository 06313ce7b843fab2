import { alarmsOf, lagSecondsOf } from '../../src/status/alarms';
import type { FlowStatus } from '../../src/status/model';

const now = new Date('2026-12-04T12:00:00Z');
const ago = (s: number) => new Date(now.getTime() - s * 1000);

function status(over: Partial<FlowStatus>): FlowStatus {
  return {
    flowId: 'f',
    name: 'f',
    state: 'running',
    reason: '',
    checkpointLsn: '0/10',
    checkpointAt: ago(1),
    receivedLsn: null,
    slot: null,
    lagBytes: 0,
    lagSeconds: 0,
    lastAppliedCommitTime: null,
    rows: [],
    rowsTotal: 0,
    rowsPerSecond: 0,
    lastError: '',
    lastErrorHint: '',
    lastErrorAt: null,
    retries: 0,
    heartbeatLsn: null,
    heartbeatAt: null,
    alarms: [],
    runs: [],
    activeRunId: '',
    pendingDdl: [],
    backfill: [],
    sampledAt: now,
    ...over,
  };
}

const monitoring = { heartbeatIntervalMs: 30_000, lagAlarmBytes: 1000, lagAlarmSeconds: 60, stallAlarmMs: 300_000 };

describe('lagSecondsOf', () => {
  test('0 when nothing is unconfirmed or the running flow was caught up moments ago', () => {
    expect(lagSecondsOf({ lagBytes: 0, state: 'paused', lastAppliedCommitAt: ago(500), caughtUpAt: null, now })).toBe(0);
    expect(lagSecondsOf({ lagBytes: 5000, state: 'running', lastAppliedCommitAt: ago(500), caughtUpAt: ago(2), now })).toBe(0);
  });

  test('now minus the later of the last applied commit and the last caught-up moment', () => {
    expect(lagSecondsOf({ lagBytes: 5000, state: 'paused', lastAppliedCommitAt: ago(120), caughtUpAt: ago(30), now })).toBe(30);
    expect(lagSecondsOf({ lagBytes: 5000, state: 'paused', lastAppliedCommitAt: ago(12.5), caughtUpAt: ago(300), now })).toBe(12.5);
    expect(lagSecondsOf({ lagBytes: 5000, state: 'running', lastAppliedCommitAt: null, caughtUpAt: ago(45), now })).toBe(45);
  });
});

describe('alarmsOf', () => {
  test('lag over lag_alarm_bytes and lag_alarm_seconds', () => {
    const a = alarmsOf(status({ lagBytes: 2048, lagSeconds: 61 }), monitoring, now);
    expect(a.map((x) => x.kind)).toEqual(['lag_bytes', 'lag_seconds']);
    expect(a[0]!.message).toBe('lag 2.0 KB exceeds lag_alarm_bytes 1000 B');
    expect(alarmsOf(status({ lagBytes: 1000, lagSeconds: 60 }), monitoring, now)).toEqual([]);
    expect(alarmsOf(status({ lagBytes: 1e12, lagSeconds: 1e6 }), { ...monitoring, lagAlarmBytes: 0, lagAlarmSeconds: 0 }, now)).toEqual([]);
  });

  test('wal_status unreserved or lost', () => {
    const slot = { slot: 's', walStatus: 'lost' } as FlowStatus['slot'];
    expect(alarmsOf(status({ slot }), monitoring, now)[0]!.message).toMatch(/slot s has lost required WAL/);
    expect(alarmsOf(status({ slot: { ...slot!, walStatus: 'unreserved' } }), monitoring, now)[0]!.kind).toBe('wal_status');
    expect(alarmsOf(status({ slot: { ...slot!, walStatus: 'reserved' } }), monitoring, now)).toEqual([]);
  });

  test('stall: running, checkpoint unmoved past stall_alarm while WAL waits', () => {
    expect(alarmsOf(status({ checkpointAt: ago(301), lagBytes: 10 }), monitoring, now).map((a) => a.kind)).toEqual(['stall']);
    expect(alarmsOf(status({ checkpointAt: ago(301), lagBytes: 0 }), monitoring, now)).toEqual([]);
    expect(alarmsOf(status({ checkpointAt: ago(301), lagBytes: 10, state: 'paused' }), monitoring, now)).toEqual([]);
    expect(alarmsOf(status({ checkpointAt: ago(299), lagBytes: 10 }), monitoring, now)).toEqual([]);
  });
});
