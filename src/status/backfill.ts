import { backfillStatusOf, type WorkflowReader } from '../services/backfill/status';
import { ACTIVE_STATUSES } from '../workflows/activeStatuses';
import { BACKFILL_WORKFLOW, flowIdOfBackfill } from '../workflows/backfill/types';
import type { FlowStatus, StatusExtension } from './model';

/** DBOS statuses of a backfill that is still to finish. */

/**
 * Adds backfill progress to flow status: for every backfill not finished yet (its DBOS workflow
 * PENDING, ENQUEUED or DELAYED), one entry per table with partitions done of planned, rows loaded
 * and the backfill's DBOS status. One query lists the active backfills of all flows; each active
 * one then reads its plan and its partitions' progress events (nothing when none runs). Finished
 * backfills are shown by GetBackfill / `ductstream-admin backfill status`.
 */
export class BackfillStatusExtension implements StatusExtension {
  constructor(private readonly reader: WorkflowReader) {}

  async extend(statuses: FlowStatus[]): Promise<void> {
    if (statuses.length === 0) return;
    const byFlow = new Map(statuses.map((s) => [s.flowId, s] as const));
    const active = await this.reader.listWorkflows({ workflowName: BACKFILL_WORKFLOW, status: [...ACTIVE_STATUSES], loadInput: true, loadOutput: false });
    for (const w of active) {
      const s = byFlow.get(flowIdOfBackfill(w.workflowID) ?? '');
      if (!s) continue;
      const b = await backfillStatusOf(this.reader, w);
      for (const t of b.tables) {
        s.backfill.push({ table: t.table, partitionsDone: t.partitionsDone, partitionsTotal: t.partitions, rows: t.rowsDone, state: b.status });
      }
    }
  }
}
