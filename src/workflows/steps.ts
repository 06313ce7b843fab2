import { describeError } from '../core/errors';
import { definitionDigest, definitionOf } from '../core/flow';
import { formatLsn, parseLsn } from '../core/lsn';
import type { DeliverResult, StopReason } from '../pipeline/flowRuntime';
import { pipelineContext } from './context';
import { stopReasonOf } from './stopReason';

/**
 * The steps of a flow run. Each is idempotent and returns counts and LSNs, never rows (DBOS
 * records step outputs). A step that throws closes the flow's runtime, so its retry reopens the
 * stream at the LSN the workflow passes in.
 */

export interface PrepareResult {
  slot: string;
  /** {@link definitionDigest} of the flow definition this run executes. */
  definition: string;
  startLsn: string;
  checkpointLsn: string | null;
}

export async function prepareSource(flowId: string, startLsnOverride: string | undefined): Promise<PrepareResult> {
  // A runtime kept from the previous run of the chain must not outlive a change of definition.
  const { deps, runtimes } = pipelineContext();
  const kept = runtimes.flowOf(flowId);
  const stored = kept ? await deps.flows.get(flowId) : null;
  if (kept && stored && definitionOf(kept) !== definitionOf(stored)) await runtimes.release(flowId);
  const rt = await runtimes.runtimeFor(flowId);
  const { startLsn, checkpoint } = await rt.prepare(startLsnOverride ? parseLsn(startLsnOverride) : undefined);
  deps.log.info('flow run prepared', {
    flow: flowId,
    slot: rt.slot,
    start_lsn: formatLsn(startLsn),
    checkpoint: checkpoint === null ? 'none' : formatLsn(checkpoint),
  });
  return {
    slot: rt.slot,
    definition: definitionDigest(rt.flow),
    startLsn: formatLsn(startLsn),
    checkpointLsn: checkpoint === null ? null : formatLsn(checkpoint),
  };
}

export interface DeliverStepResult extends DeliverResult {
  /** Consecutive empty polls up to and including this step. */
  emptyReads: number;
  /** Set when the run should end after this step. */
  stop: StopReason | 'empty' | null;
}

/**
 * Delivers from `fromLsn` until the step's bounds. `emptyReadsBefore` consecutive empty polls
 * preceded it; when this one is empty too and reaches the max-empty-reads of the process's run
 * policy (or else of the run's own options), the result says stop with `empty`. Deciding this in
 * the step records it, so a replay of the workflow takes the same decision. Unless the run ends
 * after this step (a stop, or `lastStep`), delivery runs ahead while the workflow records the step
 * and commits (see FlowRuntime.deliver); the next step returns what it delivered meanwhile.
 *
 * A run that streams until stopped (max-empty-reads 0) lets an idle step wait for its first change
 * instead of ending at an empty poll; at each empty poll it still looks for a stop reason (as the
 * step's end does), so a pause, stop, delete or update ends the step as promptly as before.
 */
export async function deliverBatch(
  flowId: string,
  fromLsn: string,
  emptyReadsBefore: number,
  maxEmptyReadsOfRun: number,
  lastStep = false,
): Promise<DeliverStepResult> {
  const { runtimes } = pipelineContext();
  const rt = await runtimes.runtimeFor(flowId);
  let emptyReads = 0;
  let stop: StopReason | 'empty' | null = null;
  /** A stop reason found while waiting idle: stopReasonOf reads the store at most once a second, so keep it for the step's end. */
  let found: StopReason | null = null;
  const maxEmptyReads = () => runtimes.runPolicyOf(flowId)?.maxEmptyReads ?? maxEmptyReadsOfRun;
  const result = await rt.deliver(parseLsn(fromLsn), {
    shouldStop: () => runtimes.stopRequested(flowId),
    endOfStep: async (empty) => {
      emptyReads = empty ? emptyReadsBefore + 1 : 0;
      stop = found ?? (await stopReasonOf(flowId)) ?? (maxEmptyReads() > 0 && emptyReads >= maxEmptyReads() ? 'empty' : null);
      return stop === null && !lastStep;
    },
    idleWait: async () => {
      if (maxEmptyReads() > 0) return false;
      found = await stopReasonOf(flowId);
      return found === null;
    },
  });
  return { ...result, emptyReads, stop };
}

export async function commitCheckpoint(flowId: string, lsn: string): Promise<string> {
  const rt = await pipelineContext().runtimes.runtimeFor(flowId);
  return formatLsn(await rt.commit(parseLsn(lsn)));
}

export async function finishRun(flowId: string): Promise<void> {
  await pipelineContext().runtimes.release(flowId);
}

/** Marks the flow failed with the reason (secrets removed) so the API and CLI can show why. */
export async function markFlowFailed(flowId: string, error: unknown): Promise<string> {
  const reason = failureReason(error);
  const { deps, runtimes } = pipelineContext();
  await runtimes.release(flowId).catch(() => undefined);
  await deps.flows.setState(flowId, 'failed', reason).catch(() => undefined);
  return reason;
}

/** The underlying error of a failure; DBOS wraps exhausted step retries in an error listing each attempt's. */
export function failureReason(error: unknown): string {
  const attempts = (error as { errors?: unknown[] } | null)?.errors;
  if (Array.isArray(attempts) && attempts.length > 0) {
    return `${describeError(attempts[attempts.length - 1])} (after ${attempts.length} attempts)`;
  }
  return describeError(error);
}
