/**
 * Runs of flows as the flow service sees them. The implementation executes them as DBOS `flowRun`
 * workflows on the service queue (src/workflows/flowQueue.ts); this interface keeps the service
 * free of DBOS details.
 */

/** `stream`: runs until the flow is paused or stopped (continuing in successor runs); `once`: ends after one empty read. */
export type RunKind = 'stream' | 'once';

export interface FlowRunInfo {
  runId: string;
  flowId: string;
  /** DBOS status: ENQUEUED, PENDING, SUCCESS, ERROR, CANCELLED, MAX_RECOVERY_ATTEMPTS_EXCEEDED, ... */
  status: string;
  maxEmptyReads: number;
  onBound: string;
  createdAt: Date;
  updatedAt?: Date;
  executorId: string;
  queueName: string;
  rows?: number;
  batches?: number;
  checkpointLsn?: string;
  end?: string;
  successorRunId?: string;
  /** Secrets removed. */
  error?: string;
}

export interface DefinitionInEffect {
  inEffect: boolean;
  /** The flow's active run when the answer was taken, if any. */
  runId?: string;
}

export interface FlowRunPage {
  runs: FlowRunInfo[];
  nextPageToken: string;
}

/**
 * Contract: at most one active (enqueued or executing) run per flow across every process that
 * shares the DBOS system database, including a dedicated `ductstream-worker`; `enqueue` never
 * adds a second one and says which run is active instead. Runs are durable: a run interrupted by
 * a crash continues from its last completed step when its process comes back.
 */
export interface FlowRunControl {
  /** The flow's active run (this or any process), or null. */
  activeRun(flowId: string): Promise<string | null>;
  /** Enqueues a run unless one is active; returns the active or new run's id. */
  enqueue(flowId: string, kind: RunKind): Promise<{ runId: string; enqueued: boolean }>;
  /** Cancels the flow's runs that are still waiting in the queue (not one that is executing). */
  cancelQueued(flowId: string): Promise<void>;
  /** The flow's runs, newest first; the page token is opaque. */
  list(flowId: string, pageSize: number, pageToken: string): Promise<FlowRunPage>;
  /** A run by id, or null when it does not exist or is not a flow run. */
  get(runId: string): Promise<FlowRunInfo | null>;
  /**
   * The flow's definition changed to the one with digest `definition` (`definitionDigest`): an
   * active run of another definition, in any process, ends after its current step (or retry
   * attempt) and continues in a successor run that executes the new one. Waits at most `waitMs`
   * for that and says whether the new definition is in effect: no run is active (the next one
   * reads it), the active run is still queued, or the active run reports that digest.
   */
  awaitDefinition(flowId: string, definition: string, waitMs: number): Promise<DefinitionInEffect>;
}
