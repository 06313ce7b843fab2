import { definitionOf } from '../core/flow';
import type { StopReason } from '../pipeline/flowRuntime';
import { pipelineContext } from './context';

/** How often a run looks at its flow in the store (pause/stop/delete/update from the API) while streaming or retrying. */
const STATE_CHECK_MS = 1000;
const lastStateCheck = new Map<string, number>();

/**
 * Whether the run of `flowId` in this process should end now, and why: a stop request of this
 * process (signal), or the stored flow paused, stopped, deleted, or with a definition other than
 * the one the run executes (`updated`). Reads the store at most once per second per flow; when the
 * store cannot be read (it may be the database that is down), only signals count.
 */
export async function stopReasonOf(flowId: string): Promise<StopReason | null> {
  const ctx = pipelineContext();
  if (ctx.runtimes.stopRequested(flowId)) return 'signal';
  const now = Date.now();
  if (now - (lastStateCheck.get(flowId) ?? 0) < STATE_CHECK_MS) return null;
  lastStateCheck.set(flowId, now);
  const flow = await ctx.deps.flows.get(flowId).catch(() => undefined);
  if (flow === undefined) return null;
  if (!flow) return 'deleted';
  if (flow.state === 'paused') return 'paused';
  if (flow.state === 'stopped') return 'stopped';
  const running = ctx.runtimes.flowOf(flowId);
  if (running && definitionOf(running) !== definitionOf(flow)) return 'updated';
  return null;
}
