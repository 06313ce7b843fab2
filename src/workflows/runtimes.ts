import { DuctError } from '../core/errors';
import type { Flow } from '../core/flow';
import { runnerDeps } from '../pipeline/deps';
import { FlowRuntime } from '../pipeline/flowRuntime';

/**
 * The FlowRuntime of each flow running in this process, keyed by flow id. A run and its
 * successors share one runtime, so the stream stays open across the chain of bounded runs.
 */
const runtimes = new Map<string, FlowRuntime>();

/** Flows whose current run should end after its current batch (Ctrl-C, pause, stop). */
const stopRequests = new Set<string>();
let stopAll = false;

export async function runtimeFor(flowId: string): Promise<FlowRuntime> {
  const existing = runtimes.get(flowId);
  if (existing) return existing;
  const deps = runnerDeps();
  const flow = await deps.flows.get(flowId);
  if (!flow) throw new DuctError('not_found', `flow "${flowId}" does not exist`, { field: 'flow_id', hint: 'create it first (CreateFlow, or -flow-file)' });
  const rt = new FlowRuntime(flow, deps);
  runtimes.set(flowId, rt);
  return rt;
}

/** The flow's runtime when a run of it executes in this process. */
export function runtimeIfHere(flowId: string): FlowRuntime | undefined {
  return runtimes.get(flowId);
}

/** The flow definition the runtime of `flowId` in this process executes, if there is one. */
export function runtimeFlowOf(flowId: string): Flow | undefined {
  return runtimes.get(flowId)?.flow;
}

export async function releaseRuntime(flowId: string): Promise<void> {
  const rt = runtimes.get(flowId);
  runtimes.delete(flowId);
  await rt?.close();
}

export async function releaseAllRuntimes(): Promise<void> {
  await Promise.allSettled([...runtimes.keys()].map(releaseRuntime));
}

export function requestStop(flowId?: string): void {
  if (flowId === undefined) stopAll = true;
  else stopRequests.add(flowId);
}

export function stopRequested(flowId: string): boolean {
  return stopAll || stopRequests.has(flowId);
}

/**
 * Per-flow run policy set by this process (the worker's flags). It applies to runs this process
 * executes, including a run recovered after a crash that was started with other flags, so a
 * restarted `-max-empty-reads 1` worker finishes the recovered run the way it was asked to.
 */
export interface RunPolicy {
  maxEmptyReads: number;
}

const policies = new Map<string, RunPolicy>();

export function setRunPolicy(flowId: string, policy: RunPolicy): void {
  policies.set(flowId, policy);
}

export function runPolicyOf(flowId: string): RunPolicy | undefined {
  return policies.get(flowId);
}
