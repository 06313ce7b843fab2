import type { Flow, FlowState } from '../../core/flow';

export interface FlowPage {
  flows: Flow[];
  /** Opaque token for the next page; empty when this is the last. */
  nextPageToken: string;
}

/**
 * Where flows live. The Postgres implementation is the `ductstream.flows` table; a memory one
 * serves standalone workers started with `-flow-file` and no DUCTSTREAM_POSTGRES_DSN.
 *
 * Contract: every method is atomic; `create` fails with `already_exists` on a duplicate id;
 * `update` replaces the definition but keeps `state`; `get` returns null for an unknown id.
 */
export interface FlowStore {
  get(id: string): Promise<Flow | null>;
  list(pageSize: number, pageToken: string): Promise<FlowPage>;
  listByState(state: FlowState): Promise<Flow[]>;
  create(flow: Flow): Promise<Flow>;
  /** Replaces name, source, destinations, wire_format and parallelism; state is preserved. */
  update(flow: Flow): Promise<Flow>;
  /** Creates the flow, or updates its definition keeping its state when it exists. */
  upsert(flow: Flow): Promise<{ flow: Flow; created: boolean }>;
  setState(id: string, state: FlowState, reason?: string): Promise<Flow>;
  /**
   * Sets the reason of a flow that is `running` (e.g. `retrying: <error>`, or '' once it recovered)
   * without changing its state; does nothing when the flow is in any other state or gone, so it
   * never undoes a concurrent pause or stop.
   */
  noteRunning(id: string, reason: string): Promise<void>;
  delete(id: string): Promise<boolean>;
}
