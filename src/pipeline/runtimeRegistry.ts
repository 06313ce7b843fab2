import { DuctError } from '../core/errors';
import type { Flow } from '../core/flow';
import type { RunnerDeps } from './deps';
import { FlowRuntime } from './flowRuntime';
import type { ProgressBoard } from './progress';

/**
 * Per-flow run policy set by this process (the worker's flags). It applies to runs this process
 * executes, including a run recovered after a crash that was started with other flags, so a
 * restarted `-max-empty-reads 1` worker finishes the recovered run the way it was asked to.
 */
export interface RunPolicy {
  maxEmptyReads: number;
}

/**
 * The FlowRuntime of each flow running in a process, keyed by flow id, with the process's stop
 * requests and run policies. A run and its successors share one runtime, so the stream stays open
 * across the chain of bounded runs. Not durable: a new process starts empty and reopens streams
 * at their checkpoints.
 */
export class RuntimeRegistry {
  private readonly runtimes = new Map<string, FlowRuntime>();
  /** Flows whose current run should end after its current batch (Ctrl-C, pause, stop). */
  private readonly stopRequests = new Set<string>();
  private stopAll = false;
  private readonly policies = new Map<string, RunPolicy>();

  constructor(
    private readonly deps: RunnerDeps,
    private readonly progress: ProgressBoard,
  ) {}

  /** The flow's runtime, created (not yet opened) on first use; `not_found` when the flow does not exist. */
  async runtimeFor(flowId: string): Promise<FlowRuntime> {
    const existing = this.runtimes.get(flowId);
    if (existing) return existing;
    const flow = await this.deps.flows.get(flowId);
    if (!flow) throw new DuctError('not_found', `flow "${flowId}" does not exist`, { field: 'flow_id', hint: 'create it first (CreateFlow, or -flow-file)' });
    const rt = new FlowRuntime(flow, this.deps, this.progress.of(flowId));
    this.runtimes.set(flowId, rt);
    return rt;
  }

  /** The flow's runtime when a run of it executes in this process. */
  runtimeIfHere(flowId: string): FlowRuntime | undefined {
    return this.runtimes.get(flowId);
  }

  /** The flow definition the runtime of `flowId` in this process executes, if there is one. */
  flowOf(flowId: string): Flow | undefined {
    return this.runtimes.get(flowId)?.flow;
  }

  /** Closes and forgets the flow's runtime (its stream and destinations). */
  async release(flowId: string): Promise<void> {
    const rt = this.runtimes.get(flowId);
    this.runtimes.delete(flowId);
    await rt?.close();
  }

  async releaseAll(): Promise<void> {
    await Promise.allSettled([...this.runtimes.keys()].map((id) => this.release(id)));
  }

  /** Asks the run of `flowId` (every flow when omitted) to end after its current batch. */
  requestStop(flowId?: string): void {
    if (flowId === undefined) this.stopAll = true;
    else this.stopRequests.add(flowId);
  }

  stopRequested(flowId: string): boolean {
    return this.stopAll || this.stopRequests.has(flowId);
  }

  setRunPolicy(flowId: string, policy: RunPolicy): void {
    this.policies.set(flowId, policy);
  }

  runPolicyOf(flowId: string): RunPolicy | undefined {
    return this.policies.get(flowId);
  }
}
