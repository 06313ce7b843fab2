import type { WireFormat } from '../wire/codec';

export const FLOW_STATES = ['created', 'running', 'paused', 'stopped', 'failed'] as const;
export type FlowState = (typeof FLOW_STATES)[number];

/** A source or destination of a flow, exactly as in flow JSON files and the proto `Endpoint`. */
export interface Endpoint {
  name: string;
  type: string;
  /** Every option value is a string; each connector parses its own (src/config/options.ts). */
  options: Record<string, string>;
}

/**
 * A flow: one Postgres source streaming into one or more destinations. The same shape is the
 * JSON of `examples/flows/*.json`, the proto `Flow`, and a row of `ductstream.flows`.
 */
export interface Flow {
  id: string;
  name: string;
  source: Endpoint;
  destinations: Endpoint[];
  /** Default wire format of the flow; empty when the service default applies. */
  wire_format: WireFormat | '';
  /** Max concurrent destination writes per batch (default 1). */
  parallelism: number;
  state: FlowState;
  /** Why the flow is in its state (e.g. the error that failed it); empty when none. */
  state_reason?: string;
}
