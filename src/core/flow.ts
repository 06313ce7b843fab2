import { createHash } from 'node:crypto';
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

/**
 * What a run executes of a flow, as one comparable string: source, destinations, wire format and
 * parallelism (not the name or the state). Two flows read from the same store compare equal exactly
 * when a run of one would do what a run of the other does.
 */
export function definitionOf(flow: Flow): string {
  return JSON.stringify([flow.source, flow.destinations, flow.wire_format, flow.parallelism]);
}

/** A short digest of {@link definitionOf}: what a run publishes as the definition it executes. */
export function definitionDigest(flow: Flow): string {
  return createHash('sha256').update(definitionOf(flow)).digest('hex').slice(0, 16);
}
