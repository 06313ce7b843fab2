import { DuctError } from '../../core/errors';
import type { Flow, FlowState } from '../../core/flow';
import type { FlowPage, FlowStore } from './store';

/** Flows held in process memory: a standalone worker's `-flow-file` flow when no DUCTSTREAM_POSTGRES_DSN is set. */
export class MemoryFlowStore implements FlowStore {
  private readonly flows = new Map<string, Flow>();

  async get(id: string): Promise<Flow | null> {
    const f = this.flows.get(id);
    return f ? structuredClone(f) : null;
  }

  async list(pageSize: number, pageToken: string): Promise<FlowPage> {
    const ids = [...this.flows.keys()].sort().filter((id) => id > pageToken);
    const size = Math.max(pageSize || 100, 1);
    const page = ids.slice(0, size).map((id) => structuredClone(this.flows.get(id)!));
    return { flows: page, nextPageToken: ids.length > size ? page[page.length - 1]!.id : '' };
  }

  async listByState(state: FlowState): Promise<Flow[]> {
    return [...this.flows.values()].filter((f) => f.state === state).map((f) => structuredClone(f));
  }

  async create(flow: Flow): Promise<Flow> {
    if (this.flows.has(flow.id)) throw new DuctError('already_exists', `flow "${flow.id}" already exists`, { field: 'id' });
    this.flows.set(flow.id, structuredClone(flow));
    return structuredClone(flow);
  }

  async update(flow: Flow): Promise<Flow> {
    const old = this.flows.get(flow.id);
    if (!old) throw new DuctError('not_found', `flow "${flow.id}" does not exist`, { field: 'id' });
    const next = { ...structuredClone(flow), state: old.state, state_reason: old.state_reason };
    this.flows.set(flow.id, next);
    return structuredClone(next);
  }

  async upsert(flow: Flow): Promise<{ flow: Flow; created: boolean }> {
    if (this.flows.has(flow.id)) return { flow: await this.update(flow), created: false };
    return { flow: await this.create(flow), created: true };
  }

  async setState(id: string, state: FlowState, reason = ''): Promise<Flow> {
    const f = this.flows.get(id);
    if (!f) throw new DuctError('not_found', `flow "${id}" does not exist`, { field: 'flow_id' });
    f.state = state;
    f.state_reason = reason;
    return structuredClone(f);
  }

  async noteRunning(id: string, reason: string): Promise<void> {
    const f = this.flows.get(id);
    if (f?.state === 'running') f.state_reason = reason;
  }

  async delete(id: string): Promise<boolean> {
    return this.flows.delete(id);
  }
}
