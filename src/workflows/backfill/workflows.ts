import { DBOS, Error as DBOSErrors } from '@dbos-inc/dbos-sdk';
import { backfillStepAttempts } from '../../config/env';
import { DuctError, retryClassOf } from '../../core/errors';
import type { PartitionTask } from '../../source/postgres/snapshot/partitions';
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
 * partition is never read again. Progress is the workflow's `progress` event.
 */
async function partitionBody(backfillId: string, flowId: string, part: PartitionTask, snap: SnapshotRef): Promise<{ rows: number }> {
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
async function backfillBody(req: BackfillRequest): Promise<BackfillResult> {
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
    await DBOS.runStep(() => finishBackfill(id, req.flowId), { name: 'finishBackfill' });
  }
}

export const backfillWorkflow = DBOS.registerWorkflow(backfillBody, { name: BACKFILL_WORKFLOW });
