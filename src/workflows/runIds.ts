/**
 * IDs of flow runs. Every run of flow F, whoever starts it (the server's queue, the schedule, a
 * dedicated `ductstream-worker`), is a `flowRun` workflow with ID `flowrun-F-<n>` (successors
 * `flowrun-F-<n>~<k>`), so one query by prefix finds the active run of a flow in any process.
 */

const RUN_ID = /^flowrun-(.+)-(\d+)(?:~\d+)?$/;

/** The ID prefix of every run of `flowId` (runs of a flow whose id extends it match too: filter with {@link flowIdOfRun}). */
export function runIdPrefix(flowId: string): string {
  return `flowrun-${flowId}-`;
}

/** A new run ID; `n` is a time in ms (now, or the schedule slot, which makes it deterministic). */
export function newRunId(flowId: string, n: number = Date.now()): string {
  return `${runIdPrefix(flowId)}${n}`;
}

/** The flow of a run ID, or null when the ID is not a flow run's. */
export function flowIdOfRun(runId: string): string | null {
  return RUN_ID.exec(runId)?.[1] ?? null;
}
