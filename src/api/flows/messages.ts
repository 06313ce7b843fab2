import type { Endpoint, Flow } from '../../core/flow';
import type { FlowRunInfo } from '../../services/flows/runs';

/** Messages of proto/ductstream/v1/flow.proto as grpc-js decodes them (keepCase, defaults on). */
export interface EndpointMessage {
  name: string;
  type: string;
  options: Record<string, string>;
}

export interface FlowMessage {
  id: string;
  name: string;
  source: EndpointMessage | null;
  destinations: EndpointMessage[];
  wire_format: string;
  parallelism: number;
  state: string;
  state_reason: string;
}

export interface TimestampMessage {
  seconds: string;
  nanos: number;
}

export interface FlowRunMessage {
  run_id: string;
  flow_id: string;
  status: string;
  max_empty_reads: number;
  on_bound: string;
  created_at: TimestampMessage | null;
  updated_at: TimestampMessage | null;
  executor_id: string;
  queue_name: string;
  rows: string;
  batches: string;
  checkpoint_lsn: string;
  end: string;
  successor_run_id: string;
  error: string;
}

const unsetIfEmpty = <T>(v: T): T | undefined => (v === '' || v === 0 || v === null ? undefined : v);

function endpointInput(e: EndpointMessage | null | undefined): Record<string, unknown> | undefined {
  if (!e) return undefined;
  return { name: unsetIfEmpty(e.name), type: e.type, options: e.options ?? {} };
}

/**
 * A decoded proto Flow as the untrusted input `parseFlow` validates: proto3 defaults ("", 0)
 * become "unset", so `parallelism: 0` means the default and an empty `wire_format` the service's.
 */
export function flowInput(m: FlowMessage | null | undefined): Record<string, unknown> | null {
  if (!m) return null;
  const out: Record<string, unknown> = {
    id: m.id,
    name: unsetIfEmpty(m.name),
    source: endpointInput(m.source),
    destinations: (m.destinations ?? []).map(endpointInput),
    wire_format: unsetIfEmpty(m.wire_format),
    parallelism: unsetIfEmpty(m.parallelism),
    state: unsetIfEmpty(m.state),
  };
  for (const k of Object.keys(out)) if (out[k] === undefined) delete out[k];
  return out;
}

function endpointMessage(e: Endpoint): EndpointMessage {
  return { name: e.name, type: e.type, options: e.options };
}

/** A (masked) Flow as its proto message. */
export function flowMessage(f: Flow): FlowMessage {
  return {
    id: f.id,
    name: f.name,
    source: endpointMessage(f.source),
    destinations: f.destinations.map(endpointMessage),
    wire_format: f.wire_format,
    parallelism: f.parallelism,
    state: f.state,
    state_reason: f.state_reason ?? '',
  };
}

function timestamp(d: Date | undefined): TimestampMessage | null {
  if (!d) return null;
  const ms = d.getTime();
  return { seconds: String(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1_000_000 };
}

export function flowRunMessage(r: FlowRunInfo): FlowRunMessage {
  return {
    run_id: r.runId,
    flow_id: r.flowId,
    status: r.status,
    max_empty_reads: r.maxEmptyReads,
    on_bound: r.onBound,
    created_at: timestamp(r.createdAt),
    updated_at: timestamp(r.updatedAt),
    executor_id: r.executorId,
    queue_name: r.queueName,
    rows: String(r.rows ?? 0),
    batches: String(r.batches ?? 0),
    checkpoint_lsn: r.checkpointLsn ?? '',
    end: r.end ?? '',
    successor_run_id: r.successorRunId ?? '',
    error: r.error ?? '',
  };
}
