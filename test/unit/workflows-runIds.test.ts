import { flowIdOfRun, newRunId, runIdPrefix } from '../../src/workflows/runIds';

describe('flow run IDs', () => {
  it('round-trips flow ids, including ids with dashes and trailing digits', () => {
    for (const id of ['a', 'orders-to-duckdb', 'flow-12', 'x.y_z-3-4']) {
      expect(flowIdOfRun(newRunId(id, 1700000000000))).toBe(id);
      expect(flowIdOfRun(`${newRunId(id, 5)}~3`)).toBe(id);
      expect(newRunId(id).startsWith(runIdPrefix(id))).toBe(true);
    }
  });

  it('tells a run of flow "a-b" from a run of flow "a" although both start with the prefix of "a"', () => {
    const other = newRunId('a-b', 1);
    expect(other.startsWith(runIdPrefix('a'))).toBe(true);
    expect(flowIdOfRun(other)).toBe('a-b');
  });

  it('returns null for IDs that are not flow runs', () => {
    for (const id of ['sched-ductstream-flow-runs-2026-01-01T00:00:00.000Z', 'flowrun-', 'flowrun-x', '5d0c-uuid']) expect(flowIdOfRun(id)).toBeNull();
  });
});
