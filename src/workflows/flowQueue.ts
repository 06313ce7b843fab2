import { DBOS, Error as DBOSErrors, type WorkflowStatus } from '@dbos-inc/dbos-sdk';
import { describeError, invalidArgument } from '../core/errors';
import type { Logger } from '../core/log';
import type { DefinitionInEffect, FlowRunControl, FlowRunInfo, FlowRunPage, RunKind } from '../services/flows/runs';
import { DEFINITION_EVENT, FLOW_RUN_WORKFLOW, flowRun, type FlowRunOptions, type FlowRunResult } from './flowRun';
import { ACTIVE_STATUSES } from './activeStatuses';
import { flowIdOfRun, newRunId, runIdPrefix } from './runIds';

/** Options of the runs the service enqueues. */
export interface FlowQueueOptions {
  queueName: string;
  /** deliverBatch steps per workflow (DUCTSTREAM_STEPS_PER_RUN, default 500). */
  maxStepsPerRun: number;
}

/** The options of a run of `kind`: `stream` continues in successors until stopped; `once` ends after one empty read or at its bound. */
export function runOptionsFor(kind: RunKind, maxStepsPerRun: number): FlowRunOptions {
  return kind === 'stream'
    ? { maxEmptyReads: 0, maxStepsPerRun, onBound: 'successor', chainIndex: 0 }
    : { maxEmptyReads: 1, maxStepsPerRun, onBound: 'end', chainIndex: 0 };
}

/**
 * Registers the service queue (after DBOS.launch). No concurrency limit: streaming runs hold
 * their slot for as long as the flow runs, so a limit would starve flows beyond it; one flow
 * never has two runs thanks to the per-flow deduplication ID and the active-run check.
 */
export async function registerFlowQueue(queueName: string): Promise<void> {
  await DBOS.registerQueue(queueName, { onConflict: 'always_update' });
}

/** Flow ids with an active run, from one query over every flow run (any process, any starter). */
export async function flowsWithActiveRuns(): Promise<Set<string>> {
  const active = await DBOS.listWorkflows({ workflowName: FLOW_RUN_WORKFLOW, status: [...ACTIVE_STATUSES], loadInput: false, loadOutput: false });
  return new Set(active.map((w) => flowIdOfRun(w.workflowID)).filter((id): id is string => id !== null));
}

/** The newest active run of `flowId`, or null. */
export async function activeRunOf(flowId: string): Promise<string | null> {
  const rows = await DBOS.listWorkflows({
    workflowName: FLOW_RUN_WORKFLOW,
    status: [...ACTIVE_STATUSES],
    workflow_id_prefix: runIdPrefix(flowId),
    loadInput: false,
    loadOutput: false,
    sortDesc: true,
  });
  return rows.find((w) => flowIdOfRun(w.workflowID) === flowId)?.workflowID ?? null;
}

/** What a workflow status says about a flow run; null when it is not one. */
export function runInfoOf(s: WorkflowStatus): FlowRunInfo | null {
  if (s.workflowName !== FLOW_RUN_WORKFLOW) return null;
  const input = Array.isArray(s.input) ? s.input : [];
  const flowId = typeof input[0] === 'string' ? input[0] : flowIdOfRun(s.workflowID);
  if (!flowId) return null;
  const opts = (input[1] ?? {}) as Partial<FlowRunOptions>;
  const out = (s.status === 'SUCCESS' ? s.output : undefined) as FlowRunResult | undefined;
  return {
    runId: s.workflowID,
    flowId,
    status: s.status,
    maxEmptyReads: opts.maxEmptyReads ?? 0,
    onBound: opts.onBound ?? '',
    createdAt: new Date(s.createdAt),
    updatedAt: s.updatedAt ? new Date(s.updatedAt) : undefined,
    executorId: s.executorId ?? '',
    queueName: s.queueName ?? '',
    rows: out?.rows,
    batches: out?.batches,
    checkpointLsn: out?.checkpointLsn,
    end: out?.end,
    successorRunId: out?.successorId,
    error: s.error !== undefined && s.error !== null ? describeError(s.error) : undefined,
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** {@link FlowRunControl} on DBOS: runs are `flowRun` workflows on the service queue. */
export class DbosFlowRuns implements FlowRunControl {
  constructor(
    private readonly o: FlowQueueOptions,
    private readonly log: Logger,
  ) {}

  activeRun(flowId: string): Promise<string | null> {
    return activeRunOf(flowId);
  }

  async enqueue(flowId: string, kind: RunKind): Promise<{ runId: string; enqueued: boolean }> {
    const active = await activeRunOf(flowId);
    if (active) return { runId: active, enqueued: false };
    const runId = newRunId(flowId);
    try {
      await DBOS.startWorkflow(flowRun, { workflowID: runId, queueName: this.o.queueName, enqueueOptions: { deduplicationID: flowId } })(
        flowId,
        runOptionsFor(kind, this.o.maxStepsPerRun),
      );
    } catch (e) {
      if (!(e instanceof DBOSErrors.DBOSQueueDuplicatedError)) throw e;
      return { runId: (await activeRunOf(flowId)) ?? e.workflowID, enqueued: false };
    }
    this.log.info('flow run enqueued', { flow: flowId, run: runId, kind });
    return { runId, enqueued: true };
  }

  async cancelQueued(flowId: string): Promise<void> {
    const queued = await DBOS.listWorkflows({
      workflowName: FLOW_RUN_WORKFLOW,
      status: ['ENQUEUED', 'DELAYED'],
      workflow_id_prefix: runIdPrefix(flowId),
      loadInput: false,
      loadOutput: false,
    });
    for (const w of queued.filter((q) => flowIdOfRun(q.workflowID) === flowId)) await DBOS.cancelWorkflow(w.workflowID);
  }

  async list(flowId: string, pageSize: number, pageToken: string): Promise<FlowRunPage> {
    const offset = decodeOffset(pageToken);
    const want = offset + pageSize + 1;
    const mine: FlowRunInfo[] = [];
    // The prefix also matches runs of flows whose id extends this one: read in chunks and filter.
    for (let scanned = 0; mine.length < want;) {
      const chunk = await DBOS.listWorkflows({
        workflowName: FLOW_RUN_WORKFLOW,
        workflow_id_prefix: runIdPrefix(flowId),
        sortDesc: true,
        limit: 200,
        offset: scanned,
      });
      for (const s of chunk) {
        const info = flowIdOfRun(s.workflowID) === flowId ? runInfoOf(s) : null;
        if (info) mine.push(info);
      }
      scanned += chunk.length;
      if (chunk.length < 200) break;
    }
    const runs = mine.slice(offset, offset + pageSize);
    return { runs, nextPageToken: mine.length > offset + pageSize ? encodeOffset(offset + pageSize) : '' };
  }

  async get(runId: string): Promise<FlowRunInfo | null> {
    const s = await DBOS.getWorkflowStatus(runId);
    return s ? runInfoOf(s) : null;
  }

  async awaitDefinition(flowId: string, definition: string, waitMs: number): Promise<DefinitionInEffect> {
    for (const deadline = Date.now() + waitMs; ; await sleep(200)) {
      const runId = await activeRunOf(flowId);
      if (!runId) return { inEffect: true };
      const status = (await DBOS.getWorkflowStatus(runId))?.status;
      // A queued run prepares from the stored definition.
      if (status === 'ENQUEUED' || status === 'DELAYED') return { inEffect: true, runId };
      if (status === 'PENDING' && (await DBOS.getEvent<string>(runId, DEFINITION_EVENT, 0)) === definition) return { inEffect: true, runId };
      if (Date.now() >= deadline) return { inEffect: false, runId };
    }
  }
}

function encodeOffset(n: number): string {
  return Buffer.from(`o${n}`, 'utf8').toString('base64url');
}

function decodeOffset(token: string): number {
  if (!token) return 0;
  const m = /^o(\d{1,9})$/.exec(Buffer.from(token, 'base64url').toString('utf8'));
  if (!m) throw invalidArgument('page_token', 'is not a token this server issued', 'pass next_page_token of the previous page, or nothing');
  return Number(m[1]);
}
