import type { FlowStatus } from '../../status/model';
import { flowStatusJson } from '../../status/json';
import { EncodedMessage } from '../encoded';
import { loadApiProtos, serviceDefinition } from '../protos';
import type { TimestampMessage } from './messages';

function timestamp(iso: unknown): TimestampMessage | null {
  if (typeof iso !== 'string') return null;
  const ms = Date.parse(iso);
  return { seconds: String(Math.floor(ms / 1000)), nanos: (((ms % 1000) + 1000) % 1000) * 1_000_000 };
}

const TIMESTAMP_FIELDS = new Set([
  'checkpoint_at',
  'last_error_at',
  'heartbeat_at',
  'sampled_at',
  'last_applied_commit_time',
  'created_at',
  'updated_at',
  'started_at',
  'completed_at',
]);
const INT64_FIELDS = new Set(['lag_bytes', 'retained_wal_bytes', 'safe_wal_size', 'rows_total', 'retries', 'rows']);

/** Turns the JSON form into the proto form: timestamps as Timestamp, int64 as strings, nulls as defaults. */
function toProto(v: unknown, key = ''): unknown {
  if (Array.isArray(v)) return v.map((x) => toProto(x, key === 'rows' ? '' : key));
  if (v !== null && typeof v === 'object') {
    return Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, toProto(x, k)]));
  }
  if (TIMESTAMP_FIELDS.has(key)) return timestamp(v);
  if (INT64_FIELDS.has(key)) return typeof v === 'number' ? String(v) : key === 'safe_wal_size' ? '-1' : '0';
  if (v === null) return '';
  return v;
}

/** A status as its ductstream.v1.FlowStatus message (the JSON form's fields, typed for proto). */
export function flowStatusMessage(s: FlowStatus): Record<string, unknown> {
  return toProto(flowStatusJson(s)) as Record<string, unknown>;
}

let encodeFlowStatus: ((message: unknown) => Buffer) | undefined;
const encodedStatus = new WeakMap<FlowStatus, Buffer>();

/** A FlowStatus message's bytes; kept per status object (statuses are not changed once built). */
function encodedOf(s: FlowStatus): Buffer {
  let b = encodedStatus.get(s);
  if (!b) {
    // GetFlowStatus answers a FlowStatus: its encoder is the message's.
    encodeFlowStatus ??= serviceDefinition(loadApiProtos(), 'ductstream.v1.FlowService').GetFlowStatus!.responseSerialize as (m: unknown) => Buffer;
    b = encodeFlowStatus(flowStatusMessage(s));
    encodedStatus.set(s, b);
  }
  return b;
}

function varint(n: number): number[] {
  const out: number[] = [];
  for (; n > 0x7f; n = Math.floor(n / 128)) out.push((n & 0x7f) | 0x80);
  out.push(n);
  return out;
}

/**
 * The ListFlowStatusResponse of `statuses`, encoded. Its only field is `repeated FlowStatus flows
 * = 1`, so the message is each status's bytes behind tag 0x0a (field 1, length-delimited) and its
 * length; the bytes of a status object are encoded once, so answering the same sample again costs
 * a copy (the status sampler hands out the same objects until its next sample).
 */
export function encodeFlowStatusList(statuses: readonly FlowStatus[]): EncodedMessage {
  const parts: Buffer[] = [];
  for (const s of statuses) {
    const b = encodedOf(s);
    parts.push(Buffer.from([0x0a, ...varint(b.length)]), b);
  }
  return new EncodedMessage(Buffer.concat(parts));
}
