import { startBackfill, type StartedBackfill } from '../backfill/start';

/**
 * `publication sync -snapshot` (SyncPublication `snapshot`): backfills the tables the sync added,
 * as a backfill of the flow (see `startBackfill`: its rows hand off to the stream without gaps).
 * Called once the sync workflow has ended, in a process with DBOS launched and runner deps set.
 * Returns undefined when nothing was added. `tablesField` names the caller's tables flag or field.
 */
export async function snapshotAddedTables(flowId: string, added: readonly string[], tablesField: string): Promise<StartedBackfill | undefined> {
  if (added.length === 0) return undefined;
  return startBackfill(flowId, { tables: [...added] }, { tables: tablesField, option: (k) => `source.options.${k}` });
}
