import type { FlowStatus } from '../../status/model';
import { flowStatusJson } from '../../status/json';
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
