/**
 * ListFlowStatus answers with a response assembled from each status's cached FlowStatus bytes:
 * it must decode, with the real protos, to exactly what encoding the whole message gives, and a
 * status object built for a changed state must show that state (nothing stale from the cache).
 */
import { encodeFlowStatusList, flowStatusMessage } from '../../src/api/flows/statusMessages';
import { loadApiProtos, serviceDefinition } from '../../src/api/protos';
import type { FlowStatus } from '../../src/status/model';

const method = serviceDefinition(loadApiProtos(), 'ductstream.v1.FlowService').ListFlowStatus!;
const encode = method.responseSerialize as (v: unknown) => Buffer;
const decode = method.responseDeserialize as (b: Buffer) => { flows: Array<Record<string, unknown>> };

function status(i: number): FlowStatus {
  const at = new Date(Date.UTC(2026, 11, 5, 12, 0, i));
  return {
    flowId: `flow-${i}`,
    name: `flow ${i} ${'n'.repeat(i * 40)}`,
    state: i % 2 ? 'running' : 'paused',
    reason: i % 3 ? '' : `retrying: error ${i}`,
    checkpointLsn: `0/${(0x1000 + i).toString(16).toUpperCase()}`,
    checkpointAt: at,
    receivedLsn: null,
    slot: {
      slot: `s${i}`,
      exists: true,
      active: i % 2 === 1,
      confirmedFlushLsn: '0/1000',
      restartLsn: '0/F00',
      currentWalLsn: '0/2000',
      lagBytes: 4096 * i,
      retainedWalBytes: 8192 * i,
      walStatus: 'reserved',
      safeWalSize: i % 2 ? null : 1 << 30,
      sampledAt: at,
    },
    lagBytes: 4096 * i,
    lagSeconds: i / 10,
    lastAppliedCommitTime: at,
    rows: Array.from({ length: i }, (_, k) => ({ table: `public.t${k}`, op: 'insert' as const, rows: k * 1000, rowsPerSecond: k / 2 })),
    rowsTotal: i * 1000,
    rowsPerSecond: i,
    lastError: i % 3 ? '' : `error ${i}`,
    lastErrorHint: '',
    lastErrorAt: i % 3 ? null : at,
    retries: i,
    heartbeatLsn: null,
    heartbeatAt: null,
    alarms: i % 4 ? [] : [{ kind: 'lag_bytes', message: `lag ${i}` }],
    runs: [],
    activeRunId: i % 2 ? `flowrun-flow-${i}-1` : '',
    pendingDdl: [],
    backfill: [],
    sampledAt: at,
  };
}

test('the assembled response decodes to the statuses, the same bytes as encoding the whole message', () => {
  const statuses = Array.from({ length: 12 }, (_, i) => status(i));
  const whole = encode({ flows: statuses.map(flowStatusMessage) });
  const assembled = encodeFlowStatusList(statuses).bytes;
  expect(assembled.equals(whole)).toBe(true);
  const again = encodeFlowStatusList(statuses).bytes;
  expect(again.equals(whole)).toBe(true);
  const flows = decode(assembled).flows;
  expect(flows.map((f) => f.flow_id)).toEqual(statuses.map((s) => s.flowId));
  expect(flows[11]!.lag_bytes).toBe(String(4096 * 11));
  expect((flows[11]!.rows as unknown[]).length).toBe(11);
  expect(encodeFlowStatusList([]).bytes.length).toBe(0);
});

test('a status object made for a changed state encodes that state', () => {
  const s = status(3);
  encodeFlowStatusList([s]);
  const changed = { ...s, state: 'stopped', reason: 'stopped by an operator' };
  const [f] = decode(encodeFlowStatusList([s, changed]).bytes).flows.slice(1);
  expect([f!.state, f!.reason]).toEqual(['stopped', 'stopped by an operator']);
});
