import { DBOS, Error as DBOSErrors } from '@dbos-inc/dbos-sdk';
import { DuctError } from '../core/errors';
import { parseLsn } from '../core/lsn';
import type { StopReason } from '../pipeline/flowRuntime';
import { ddlApproval, ddlWorkflowId } from './ddlApproval';
import { commitCheckpoint, deliverBatch, finishRun, markFlowFailed, prepareSource } from './steps';
import { isInterrupted, retryingStep } from './stepRetry';

export interface FlowRunOptions {
  /** End the run after this many consecutive empty polls; 0 streams until stopped. */
  maxEmptyReads: number;
  /** Start here instead of the checkpoint (first run of a chain only), as X/Y. */
  startLsn?: string;
  /** deliverBatch steps per workflow; then the run ends (or continues in a successor). Keeps recovery short. */
  maxStepsPerRun: number;
  /** When the step bound is hit: start a successor workflow (long-running workers) or just end (scheduled runs). */
  onBound: 'successor' | 'end';
  /** Position in the chain of successors (0 for the first run). */
  chainIndex: number;
}

export type FlowRunEnd = StopReason | 'empty' | 'bounded';

export interface FlowRunResult {
  flowId: string;
  rows: number;
  batches: number;
  checkpointLsn: string;
  end: FlowRunEnd;
  /** The workflow that continues this run: when `end` is `bounded` and `onBound` is `successor`, or `updated`. */
  successorId?: string;
}

export const FLOW_RUN_WORKFLOW = 'flowRun';

/** The DBOS event of a run holding the {@link definitionDigest} of the flow definition it executes. */
export const DEFINITION_EVENT = 'definition';

/**
 * Steps are not retried by DBOS: {@link retryingStep} retries transient failures inside the step
 * (without end by default, showing `retrying: <reason>`), so a recorded step is one that succeeded,
 * failed permanently, or was interrupted.
 */
const NO_DBOS_RETRY = { retriesAllowed: false };

/** The ID of the successor of run `id`: deterministic, so it is started exactly once. */
export function successorIdOf(id: string, chainIndex: number): string {
  const base = id.replace(/~\d+$/, '');
  return `${base}~${chainIndex + 1}`;
}

async function flowRunBody(flowId: string, opts: FlowRunOptions): Promise<FlowRunResult> {
  let rows = 0;
  let batches = 0;
  let lsnText = '0/0';
  /** Ends the run; a bounded `successor` run, or one whose flow definition changed, continues in a successor workflow. */
  const end = async (how: FlowRunEnd): Promise<FlowRunResult> => {
    const continued = how === 'updated' || (how === 'bounded' && opts.onBound === 'successor');
    // A bounded run's successor keeps the stream open; after an update it must read the new definition.
    if (!continued || how === 'updated') await DBOS.runStep(() => finishRun(flowId), { name: 'finishRun' });
    const result: FlowRunResult = { flowId, rows, batches, checkpointLsn: lsnText, end: how };
    if (continued) {
      const successorId = successorIdOf(DBOS.workflowID!, opts.chainIndex);
      await DBOS.startWorkflow(flowRun, { workflowID: successorId })(flowId, { ...opts, startLsn: undefined, chainIndex: opts.chainIndex + 1 });
      result.successorId = successorId;
    }
    return result;
  };
  try {
    const startLsn = opts.chainIndex === 0 ? opts.startLsn : undefined;
    const prep = await DBOS.runStep(() => retryingStep(flowId, 'prepareSource', () => prepareSource(flowId, startLsn)), {
      name: 'prepareSource',
      ...NO_DBOS_RETRY,
    });
    if (isInterrupted(prep)) return await end(prep.interrupted);
    await DBOS.setEvent(DEFINITION_EVENT, prep.definition);
    lsnText = prep.startLsn;
    let emptyReads = 0;
    for (let step = 0; ; step++) {
      if (step >= opts.maxStepsPerRun) return await end('bounded');
      const from = lsnText;
      const before = emptyReads;
      // No delivery beyond the run's last step: the run ends, or a successor prepares the source anew.
      const lastStep = step + 1 >= opts.maxStepsPerRun;
      const r = await DBOS.runStep(() => retryingStep(flowId, 'deliverBatch', () => deliverBatch(flowId, from, before, opts.maxEmptyReads, lastStep)), {
        name: 'deliverBatch',
        ...NO_DBOS_RETRY,
      });
      if (isInterrupted(r)) return await end(r.interrupted);
      rows += r.rows;
      batches += r.batches;
      for (const id of r.ddlEvents ?? []) await DBOS.startWorkflow(ddlApproval, { workflowID: ddlWorkflowId(id) })(id);
      if (parseLsn(r.checkpointLsn) > parseLsn(lsnText)) {
        const target = r.checkpointLsn;
        const committed = await DBOS.runStep(() => retryingStep(flowId, 'commitCheckpoint', () => commitCheckpoint(flowId, target)), {
          name: 'commitCheckpoint',
          ...NO_DBOS_RETRY,
        });
        // Not committed: the delivered changes are delivered again by a later run (idempotent).
        if (isInterrupted(committed)) return await end(committed.interrupted);
        lsnText = committed;
      }
      emptyReads = r.emptyReads;
      if (r.stop) return await end(r.stop);
    }
  } catch (e) {
    if (e instanceof DBOSErrors.DBOSWorkflowCancelledError) throw e;
    const reason = await DBOS.runStep(() => markFlowFailed(flowId, e), { name: 'markFlowFailed' });
    throw new DuctError('failed_precondition', `flow "${flowId}" failed: ${reason}`, { retry: 'never' });
  }
}

/**
 * A flow run: prepare source → read checkpoint → (deliverBatch → commitCheckpoint)*, bounded in
 * steps so that recovery after a crash replays little; a long-running worker continues in a
 * successor workflow with a deterministic ID.
 */
export const flowRun = DBOS.registerWorkflow(flowRunBody, { name: FLOW_RUN_WORKFLOW });
