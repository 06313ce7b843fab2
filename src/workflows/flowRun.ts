import { DBOS, Error as DBOSErrors } from '@dbos-inc/dbos-sdk';
import { DuctError, retryClassOf } from '../core/errors';
import { parseLsn } from '../core/lsn';
import type { StopReason } from '../pipeline/flowRuntime';
import { ddlApproval, ddlWorkflowId } from './ddlApproval';
import { commitCheckpoint, deliverBatch, finishRun, markFlowFailed, prepareSource } from './steps';

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
  /** The workflow that continues this run, when `end` is `bounded` and `onBound` is `successor`. */
  successorId?: string;
}

export const FLOW_RUN_WORKFLOW = 'flowRun';

/** DBOS retries of a step for transient failures: capped by attempts, exponential between them. */
const STEP_RETRY = {
  retriesAllowed: true,
  maxAttempts: Number(process.env.DUCTSTREAM_STEP_MAX_ATTEMPTS) || 8,
  intervalSeconds: 0.5,
  backoffRate: 2,
  shouldRetry: (e: unknown) => retryClassOf(e) !== 'never',
};

/** The ID of the successor of run `id`: deterministic, so it is started exactly once. */
export function successorIdOf(id: string, chainIndex: number): string {
  const base = id.replace(/~\d+$/, '');
  return `${base}~${chainIndex + 1}`;
}

async function flowRunBody(flowId: string, opts: FlowRunOptions): Promise<FlowRunResult> {
  let rows = 0;
  let batches = 0;
  let lsnText = '0/0';
  try {
    const prep = await DBOS.runStep(() => prepareSource(flowId, opts.chainIndex === 0 ? opts.startLsn : undefined), { name: 'prepareSource', ...STEP_RETRY });
    lsnText = prep.startLsn;
    let emptyReads = 0;
    for (let step = 0; ; step++) {
      if (step >= opts.maxStepsPerRun) {
        if (opts.onBound === 'end') {
          await DBOS.runStep(() => finishRun(flowId), { name: 'finishRun' });
          return { flowId, rows, batches, checkpointLsn: lsnText, end: 'bounded' };
        }
        const successorId = successorIdOf(DBOS.workflowID!, opts.chainIndex);
        await DBOS.startWorkflow(flowRun, { workflowID: successorId })(flowId, { ...opts, startLsn: undefined, chainIndex: opts.chainIndex + 1 });
        return { flowId, rows, batches, checkpointLsn: lsnText, end: 'bounded', successorId };
      }
      const from = lsnText;
      const before = emptyReads;
      const r = await DBOS.runStep(() => deliverBatch(flowId, from, before, opts.maxEmptyReads), { name: 'deliverBatch', ...STEP_RETRY });
      rows += r.rows;
      batches += r.batches;
      for (const id of r.ddlEvents ?? []) await DBOS.startWorkflow(ddlApproval, { workflowID: ddlWorkflowId(id) })(id);
      if (parseLsn(r.checkpointLsn) > parseLsn(lsnText)) {
        const target = r.checkpointLsn;
        lsnText = await DBOS.runStep(() => commitCheckpoint(flowId, target), { name: 'commitCheckpoint', ...STEP_RETRY });
      }
      emptyReads = r.emptyReads;
      const end: FlowRunEnd | null = r.stop;
      if (end) {
        await DBOS.runStep(() => finishRun(flowId), { name: 'finishRun' });
        return { flowId, rows, batches, checkpointLsn: lsnText, end };
      }
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
