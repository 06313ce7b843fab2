import { DBOS, Error as DBOSErrors } from '@dbos-inc/dbos-sdk';
import { backfillStepAttempts } from '../../config/env';
import { DuctError, retryClassOf } from '../../core/errors';
import { withBackfillRuntime } from '../../pipeline/backfillRuntime';
import { releaseSnapshot } from '../../source/postgres/snapshot/exported';
import type { PartitionTask } from '../../source/postgres/snapshot/partitions';
import { pipelineContext } from '../context';
import { copyChunk, finishBackfill, planBackfill, resolveBackfillStaging } from './steps';
import {
  BACKFILL_PARTITION_WORKFLOW,
  BACKFILL_RESULT_POLL_MS,
  BACKFILL_WORKFLOW,
  PLAN_EVENT,
  PROGRESS_EVENT,
  type BackfillRequest,
  type BackfillResult,
  type PartitionProgress,
  type SnapshotRef,
} from './types';

const STEP_RETRY = {
  retriesAllowed: true,
  maxAttempts: backfillStepAttempts(),
  intervalSeconds: 0.5,
  backoffRate: 2,
  shouldRetry: (e: unknown) => retryClassOf(e) !== 'never',
};

/**
 * One partition: its chunks in order, each a `copyChunk` step (read under the snapshot, write to
 * every destination). A kill -9 resumes at the first chunk not recorded as done; a finished
 * partition is never read again. Progress is the workflow's `progress` event. The body holds the
 * flow's backfill runtime of this process from its first chunk to its end, whatever the end
 * (done, failed, cancelled), so the runtime's destinations and read-ahead live across its steps
 * and close when no partition of the flow runs here any more.
 */
function partitionBody(backfillId: string, flowId: string, part: PartitionTask, snap: SnapshotRef): Promise<{ rows: number }> {
  return withBackfillRuntime(flowId, pipelineContext().deps, () => partitionChunks(backfillId, flowId, part, snap));
}

async function partitionChunks(backfillId: string, flowId: string, part: PartitionTask, snap: SnapshotRef): Promise<{ rows: number }> {
  let rows = 0;
  const chunks = part.endChunk - part.firstChunk;
  for (let c = part.firstChunk; c < part.endChunk; c++) {
    const before = rows;
    const r = await DBOS.runStep(() => copyChunk(backfillId, flowId, part, c, before, snap), { name: 'copyChunk', ...STEP_RETRY });
    rows += r.rows;
    const progress: PartitionProgress = { rows, chunksDone: c + 1 - part.firstChunk, chunks };
    await DBOS.setEvent(PROGRESS_EVENT, progress);
  }
  return { rows };
}

export const backfillPartition = DBOS.registerWorkflow(partitionBody, { name: BACKFILL_PARTITION_WORKFLOW });

/**
 * A backfill: plan (source prepared, tables sized, snapshot taken) → one child workflow per
 * (table, partition) on the flow's backfill queue, whose concurrency is snapshot_workers (any
 * process of the application listening to that queue takes partitions) → resolve staging → release
 * the snapshot. The plan is the workflow's `plan` event.
 */
function backfillBody(req: BackfillRequest): Promise<BackfillResult> {
  return withBackfillRuntime(req.flowId, pipelineContext().deps, () => backfillSteps(req));
}

async function backfillSteps(req: BackfillRequest): Promise<BackfillResult> {
  const id = DBOS.workflowID!;
  const plan = await DBOS.runStep(() => planBackfill(id, req), { name: 'planBackfill', ...STEP_RETRY });
  await DBOS.setEvent(PLAN_EVENT, plan);
  try {
    const handles = [];
    for (const p of plan.partitions) {
      handles.push(await DBOS.startWorkflow(backfillPartition, { workflowID: p.id, queueName: plan.queueName })(id, req.flowId, p.task, plan.snapshot));
    }
    let rows = 0;
    for (const h of handles) rows += (await h.getResult({ pollingIntervalMs: BACKFILL_RESULT_POLL_MS })).rows;
    const resolved = await DBOS.runStep(() => resolveBackfillStaging(req), { name: 'resolveStaging', ...STEP_RETRY });
    return { flowId: req.flowId, rows, partitions: plan.partitions.length, snapshotLsn: plan.snapshot.lsn, resolved };
  } catch (e) {
    if (e instanceof DBOSErrors.DBOSWorkflowCancelledError || e instanceof DBOSErrors.DBOSAwaitedWorkflowCancelledError) throw e;
    throw new DuctError('failed_precondition', `backfill ${id} failed: ${e instanceof Error ? e.message : String(e)}`, { retry: 'never', cause: e });
  } finally {
    await finish(id);
  }
}

/** The `finishBackfill` step; a cancelled workflow runs no step, so the exporting session of this process is ended without. */
async function finish(id: string): Promise<void> {
  try {
    await DBOS.runStep(() => finishBackfill(id), { name: 'finishBackfill' });
  } catch (e) {
    await releaseSnapshot(id);
    if (!(e instanceof DBOSErrors.DBOSWorkflowCancelledError)) throw e;
  }
}

export const backfillWorkflow = DBOS.registerWorkflow(backfillBody, { name: BACKFILL_WORKFLOW });
