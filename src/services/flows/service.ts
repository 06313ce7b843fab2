import { parseFlow, type FlowValidationContext } from '../../config/flow';
import { DuctError, invalidArgument } from '../../core/errors';
import { definitionDigest, definitionOf, type Flow, type FlowState } from '../../core/flow';
import { keepMaskedSecrets, maskFlow } from './mask';
import type { FlowRunControl, FlowRunInfo, FlowRunPage, RunKind } from './runs';
import type { FlowPage, FlowStore } from '../../state/flows/store';
import type { CheckpointStore } from '../../state/checkpoint/store';
import type { DdlStore } from '../../ddl/store';
import { teardownSource, type TeardownOptions, type TeardownResult } from '../teardown/sourceTeardown';

export interface FlowServiceDeps {
  store: FlowStore;
  validation: FlowValidationContext;
  /** Null when this process does not run flows (DUCTSTREAM_DBOS_ENABLED=false): states change, nothing is enqueued. */
  runs: FlowRunControl | null;
  /** What StartFlow/ResumeFlow enqueue: `stream` without a schedule, `once` when DUCTSTREAM_DBOS_SCHEDULE drives runs. */
  startRunKind: RunKind;
  /** Removed with the flow: its checkpoint and DDL events (when given). */
  checkpoints?: CheckpointStore;
  ddl?: DdlStore;
  /** How long UpdateFlow waits for a running flow to switch to the new definition (default 10 s). */
  updateWaitMs?: number;
}

/** How long UpdateFlow waits for a running flow's run to switch to the new definition. */
const UPDATE_WAIT_MS = 10_000;

const PENDING_UPDATE = (who: string): string =>
  `definition updated: ${who} switches to it when its current step or retry attempt ends (within about a second of that)`;

/** The flow lifecycle: created → running ⇄ paused → stopped, and failed (with a reason) from a run. */
const PAUSABLE: readonly FlowState[] = ['running'];
const STARTABLE: readonly FlowState[] = ['created', 'stopped', 'failed', 'running'];

/**
 * Flows and their runs, for the gRPC API and the admin CLI alike. Every input is validated with
 * `parseFlow` (field-pathed `invalid_argument`), every returned flow has its secrets masked, and
 * state changes reach a run within about a second (it ends after its current batch and keeps its
 * checkpoint). Errors are DuctErrors: not_found, already_exists, failed_precondition.
 */
export class FlowService {
  constructor(private readonly deps: FlowServiceDeps) {}

  /** Creates a flow in state `created`; with `startImmediately`, starts it. A `state` in the input is ignored. */
  async create(input: unknown, startImmediately = false): Promise<Flow> {
    const parsed = parseFlow(input, this.deps.validation);
    const { state_reason: _ignored, ...definition } = parsed;
    const created = await this.deps.store.create({ ...definition, state: 'created' });
    return startImmediately ? this.start(created.id) : maskFlow(created);
  }

  async get(flowId: string): Promise<Flow> {
    return maskFlow(await this.stored(flowId));
  }

  async list(pageSize: number, pageToken: string): Promise<FlowPage> {
    if (!Number.isInteger(pageSize) || pageSize < 0 || pageSize > 1000)
      throw invalidArgument('page_size', `${pageSize} is out of range`, 'use 1 to 1000 (0 means 100)');
    const page = await this.deps.store.list(pageSize || 100, pageToken);
    return { flows: page.flows.map(maskFlow), nextPageToken: page.nextPageToken };
  }

  /**
   * Replaces the definition (full payload) keeping state and checkpoint; masked secrets sent back
   * unchanged keep their stored values. When the flow is running with another definition, its
   * active run (in any process) ends after its current step, or its current retry attempt, and a
   * successor run executes the new definition; this waits up to `updateWaitMs` for that. When the
   * run has not switched by then, the returned flow's `state_reason` says which run will switch
   * and when; the switch still happens.
   */
  async update(input: unknown): Promise<Flow> {
    const parsed = parseFlow(input, this.deps.validation);
    const stored = await this.stored(parsed.id, 'id');
    const next = parseFlow(keepMaskedSecrets(parsed, stored), this.deps.validation);
    const updated = await this.deps.store.update(next);
    if (updated.state !== 'running' || definitionOf(updated) === definitionOf(stored)) return maskFlow(updated);
    if (!this.deps.runs) {
      return maskFlow({ ...updated, state_reason: PENDING_UPDATE('any run of this flow in another process (ductstream-worker or a server)') });
    }
    const effect = await this.deps.runs.awaitDefinition(updated.id, definitionDigest(updated), this.deps.updateWaitMs ?? UPDATE_WAIT_MS);
    // Read again: the run may have noted or cleared a `retrying:` reason meanwhile.
    const now = (await this.deps.store.get(updated.id)) ?? updated;
    return maskFlow(effect.inEffect ? now : { ...now, state_reason: PENDING_UPDATE(`run ${effect.runId}`) });
  }

  /**
   * Deletes the flow, its checkpoint and DDL events; with `dropSlot` / `dropPublication` also its
   * source-state record, its slot (else it holds WAL forever) and publication (refused while
   * another flow uses it). A plain delete does not contact the source. The flow is stopped first, so its run ends after the current batch and
   * releases the slot; a slot still streamed after a while fails the call and deletes nothing.
   */
  async delete(flowId: string, o: Partial<TeardownOptions> = {}): Promise<TeardownResult | null> {
    requireId(flowId);
    const flow = await this.stored(flowId);
    const opts: TeardownOptions = { dropSlot: o.dropSlot ?? false, dropPublication: o.dropPublication ?? false, slotWaitMs: o.slotWaitMs };
    let result: TeardownResult | null = null;
    if (opts.dropPublication) await this.refuseSharedPublication(flow);
    if (opts.dropSlot || opts.dropPublication) {
      if (flow.state === 'running') await this.deps.store.setState(flowId, 'stopped');
      await this.deps.runs?.cancelQueued(flowId);
      result = await teardownSource(flow, opts);
    }
    if (!(await this.deps.store.delete(flowId))) throw notFound(flowId);
    await this.deps.runs?.cancelQueued(flowId);
    await this.deps.checkpoints?.delete(flowId);
    await this.deps.ddl?.deleteFlow(flowId);
    return result;
  }

  private async refuseSharedPublication(flow: Flow): Promise<void> {
    const pub = flow.source.options.publication;
    const dsn = flow.source.options.dsn;
    for (let token = ''; ;) {
      const page = await this.deps.store.list(1000, token);
      const other = page.flows.find((f) => f.id !== flow.id && f.source.options.publication === pub && f.source.options.dsn === dsn);
      if (other) {
        throw new DuctError('failed_precondition', `publication ${pub} is also used by flow "${other.id}"`, {
          field: 'drop_publication',
          retry: 'never',
          hint: 'delete without dropping the publication, or delete the other flow first',
        });
      }
      if (!page.nextPageToken) return;
      token = page.nextPageToken;
    }
  }

  async start(flowId: string): Promise<Flow> {
    const flow = await this.stored(flowId);
    if (!STARTABLE.includes(flow.state)) throw wrongState(flow, 'start', 'it is paused: resume it with ResumeFlow');
    this.revalidate(flow);
    const running = flow.state === 'running' ? flow : await this.deps.store.setState(flowId, 'running');
    await this.deps.runs?.enqueue(flowId, this.deps.startRunKind);
    return maskFlow(running);
  }

  async stop(flowId: string): Promise<Flow> {
    const flow = await this.stored(flowId);
    const stopped = flow.state === 'stopped' ? flow : await this.deps.store.setState(flowId, 'stopped');
    await this.deps.runs?.cancelQueued(flowId);
    return maskFlow(stopped);
  }

  async pause(flowId: string): Promise<Flow> {
    const flow = await this.stored(flowId);
    if (flow.state === 'paused') return maskFlow(flow);
    if (!PAUSABLE.includes(flow.state)) throw wrongState(flow, 'pause', 'only a running flow can be paused');
    const paused = await this.deps.store.setState(flowId, 'paused');
    await this.deps.runs?.cancelQueued(flowId);
    return maskFlow(paused);
  }

  async resume(flowId: string): Promise<Flow> {
    const flow = await this.stored(flowId);
    if (flow.state !== 'paused' && flow.state !== 'running') throw wrongState(flow, 'resume', 'only a paused flow can be resumed; use StartFlow');
    this.revalidate(flow);
    const running = flow.state === 'running' ? flow : await this.deps.store.setState(flowId, 'running');
    await this.deps.runs?.enqueue(flowId, this.deps.startRunKind);
    return maskFlow(running);
  }

  /** Enqueues one run that ends after an empty read; the flow's state does not change. */
  async runOnce(flowId: string): Promise<FlowRunInfo> {
    const runs = this.requireRuns();
    const flow = await this.stored(flowId);
    if (flow.state === 'paused' || flow.state === 'stopped')
      throw wrongState(flow, 'run', `a ${flow.state} run would end at once: ${flow.state === 'paused' ? 'ResumeFlow' : 'StartFlow'} it first`);
    this.revalidate(flow);
    const { runId, enqueued } = await runs.enqueue(flowId, 'once');
    if (!enqueued)
      throw new DuctError('failed_precondition', `flow "${flowId}" already has a run in progress (${runId})`, {
        field: 'flow_id',
        hint: 'wait for it to end (GetFlowRun), or pause the flow',
      });
    return (
      (await runs.get(runId)) ?? { runId, flowId, status: 'ENQUEUED', maxEmptyReads: 1, onBound: 'end', createdAt: new Date(), executorId: '', queueName: '' }
    );
  }

  async listRuns(flowId: string, pageSize: number, pageToken: string): Promise<FlowRunPage> {
    const runs = this.requireRuns();
    if (!Number.isInteger(pageSize) || pageSize < 0 || pageSize > 1000)
      throw invalidArgument('page_size', `${pageSize} is out of range`, 'use 1 to 1000 (0 means 50)');
    await this.stored(flowId);
    return runs.list(flowId, pageSize || 50, pageToken);
  }

  async getRun(flowId: string, runId: string): Promise<FlowRunInfo> {
    const runs = this.requireRuns();
    if (!runId) throw invalidArgument('run_id', 'is required', 'pass a run_id from ListFlowRuns');
    const run = await runs.get(runId);
    if (!run || (flowId && run.flowId !== flowId)) {
      throw new DuctError('not_found', `run "${runId}" does not exist${flowId ? ` for flow "${flowId}"` : ''}`, {
        field: 'run_id',
        hint: 'list the runs with ListFlowRuns',
      });
    }
    return run;
  }

  private async stored(flowId: string, field = 'flow_id'): Promise<Flow> {
    requireId(flowId, field);
    const flow = await this.deps.store.get(flowId);
    if (!flow) throw notFound(flowId, field);
    return flow;
  }

  /** A stored flow may have become invalid (e.g. DUCTSTREAM_WIRE_ENFORCE turned on since). */
  private revalidate(flow: Flow): void {
    try {
      parseFlow(flow, this.deps.validation);
    } catch (e) {
      if (!(e instanceof DuctError)) throw e;
      throw new DuctError('failed_precondition', `flow "${flow.id}" is not valid under this server's settings: ${e.message}`, {
        field: e.field,
        hint: `fix it with UpdateFlow${e.hint ? `; ${e.hint}` : ''}`,
      });
    }
  }

  private requireRuns(): FlowRunControl {
    if (!this.deps.runs) {
      throw new DuctError('failed_precondition', 'this server does not run flows (DUCTSTREAM_DBOS_ENABLED=false)', {
        hint: 'set DUCTSTREAM_DBOS_ENABLED=true, or run the flow with ductstream-worker',
      });
    }
    return this.deps.runs;
  }
}

function requireId(flowId: string, field = 'flow_id'): void {
  if (!flowId || flowId.trim() === '') throw invalidArgument(field, 'is required', 'pass the id of a flow (ListFlows shows them)');
}

function notFound(flowId: string, field = 'flow_id'): DuctError {
  return new DuctError('not_found', `flow "${flowId}" does not exist`, { field, hint: 'create it with CreateFlow, or check the id with ListFlows' });
}

function wrongState(flow: Flow, action: string, why: string): DuctError {
  return new DuctError('failed_precondition', `cannot ${action} flow "${flow.id}" in state ${flow.state}: ${why}`, { field: 'flow_id' });
}
