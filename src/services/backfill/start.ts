import { DBOS, type WorkflowStatus } from '@dbos-inc/dbos-sdk';
import { DuctError } from '../../core/errors';
import { pipelineContext } from '../../workflows/context';
import { backfillWorkflow } from '../../workflows/backfill/workflows';
import { BACKFILL_WORKFLOW, backfillIdPrefix, flowIdOfBackfill, newBackfillId, requestOfBackfill, type BackfillRequest } from '../../workflows/backfill/types';
import { ACTIVE_STATUSES } from '../../workflows/activeStatuses';
import { validateBackfill, type BackfillFields, type BackfillInput } from './validate';

/** Active backfills of a flow (any process). */
export async function activeBackfills(flowId: string): Promise<WorkflowStatus[]> {
  const rows = await DBOS.listWorkflows({
    workflowName: BACKFILL_WORKFLOW,
    status: [...ACTIVE_STATUSES],
    workflow_id_prefix: backfillIdPrefix(flowId),
    loadOutput: false,
  });
  return rows.filter((w) => flowIdOfBackfill(w.workflowID) === flowId);
}

export interface StartedBackfill {
  backfillId: string;
  request: BackfillRequest;
}

/**
 * Starts a backfill of `input.tables` (every table of the flow's publication when none) for a
 * flow, in a process where DBOS is launched and runner dependencies are set (server, worker, or a
 * workflow such as publication sync). Validates first (see {@link validateBackfill}): bad input
 * throws `invalid_argument` naming `fields` and starts nothing. A table already being backfilled
 * for the flow is refused (`failed_precondition`). Returns at once; the work runs on the flow's
 * backfill queue (`ductstream-backfill-<flow>`), whose listeners share the partitions.
 * `backfillId`: the id to start it under (another module, e.g. `publication sync -snapshot`, that
 * must know it before it starts); it must be `backfill-<flowId>-<digits>` ({@link newBackfillId}).
 * Starting the same id twice returns the running backfill (DBOS deduplicates workflow ids).
 */
export async function startBackfill(flowId: string, input: BackfillInput, fields: BackfillFields, backfillId?: string): Promise<StartedBackfill> {
  const deps = pipelineContext().deps;
  if (backfillId !== undefined && flowIdOfBackfill(backfillId) !== flowId) {
    throw new DuctError('invalid_argument', `backfill id "${backfillId}" is not one of flow "${flowId}"`, {
      retry: 'never',
      hint: 'make it with newBackfillId(flowId)',
    });
  }
  const flow = await deps.flows.get(flowId);
  if (!flow) throw new DuctError('not_found', `flow "${flowId}" does not exist`, { field: 'flow_id', hint: 'create it first (CreateFlow or -flow-file)' });
  const request = await validateBackfill(flow, input, fields, deps.log);
  for (const w of await activeBackfills(flowId)) {
    if (w.workflowID === backfillId) return { backfillId, request };
    const other = requestOfBackfill(w)?.tables ?? [];
    const both = request.tables.filter((t) => other.includes(t));
    if (both.length > 0) {
      throw new DuctError('failed_precondition', `table(s) ${both.join(', ')} are being backfilled already by ${w.workflowID}`, {
        retry: 'never',
        hint: 'wait for it (backfill status) or cancel it (CancelBackfill)',
      });
    }
  }
  const id = backfillId ?? newBackfillId(flowId);
  await DBOS.startWorkflow(backfillWorkflow, { workflowID: id })(request);
  deps.log.info('backfill started', { flow: flowId, backfill: id, tables: request.tables.join(','), workers: request.workers });
  return { backfillId: id, request };
}
