import { invalidArgument } from '../../core/errors';
import type { AckResult, GroupStart, LocatedStreamInfo, PullResult, StreamMessage } from '../../services/streams';

/**
 * Conversions between ductstream.v1 stream messages (as @grpc/proto-loader gives them: proto field
 * names, int64 as strings, Timestamps as {seconds, nanos}) and the stream service's types.
 */

export interface TimestampMessage {
  seconds: string;
  nanos: number;
}

/** `YYYY-MM-DDTHH:MM:SS.ffffffZ` (the service's times) → Timestamp, exactly. */
export function timestampOf(iso: string): TimestampMessage | null {
  if (!iso) return null;
  const m = /^(.*?)(?:\.(\d+))?Z$/.exec(iso);
  const ms = Date.parse(`${m?.[1] ?? iso}Z`);
  if (!m || Number.isNaN(ms)) return null;
  const frac = (m[2] ?? '').padEnd(9, '0').slice(0, 9);
  return { seconds: String(Math.floor(ms / 1000)), nanos: Number(frac) };
}

/** Timestamp → RFC 3339 text with microseconds (what the service validates), or an error naming `field`. */
export function instantOf(ts: TimestampMessage, field: string): string {
  const seconds = Number(ts.seconds);
  const nanos = ts.nanos ?? 0;
  if (!Number.isSafeInteger(seconds) || !Number.isInteger(nanos) || nanos < 0 || nanos > 999_999_999) {
    throw invalidArgument(field, 'is not a valid timestamp', 'set seconds since the epoch and 0 <= nanos < 1e9');
  }
  const date = new Date(seconds * 1000);
  if (Number.isNaN(date.getTime())) throw invalidArgument(field, 'is out of range', 'use a time between years 0001 and 9999');
  const micros = String(Math.floor(nanos / 1000)).padStart(6, '0');
  return date.toISOString().replace(/\.\d{3}Z$/, `.${micros}Z`);
}

export function groupStartOf(value: string | number | undefined): GroupStart {
  return value === 'GROUP_START_NOW' || value === 2 ? 'now' : 'beginning';
}

export function streamMessageOf(m: StreamMessage): Record<string, unknown> {
  return {
    id: m.id,
    schema: m.schema,
    table: m.table,
    op: m.op,
    key_json: JSON.stringify(m.key),
    lsn: m.lsn,
    commit_lsn: m.commitLsn,
    seq: m.seq,
    commit_time: timestampOf(m.commitTime),
    xid: String(m.xid),
    format: m.format,
    payload: m.payload,
    delivery_count: m.deliveryCount,
    leased_until: timestampOf(m.leasedUntil),
    avro_schema: m.avroSchema,
  };
}

export function pullResponseOf(r: PullResult): Record<string, unknown> {
  return { stream: r.stream, consumer_group: r.group, group_created: r.groupCreated, messages: r.messages.map(streamMessageOf) };
}

export function ackResponseOf(r: AckResult): Record<string, unknown> {
  return { acked: r.acked, already_acked: r.alreadyAcked, not_delivered: r.notDelivered };
}

export function streamInfoOf(s: LocatedStreamInfo): Record<string, unknown> {
  return {
    name: s.name,
    format: s.format,
    flow_id: s.flowId,
    events: String(s.events),
    first_id: s.firstId || '0',
    last_id: s.lastId || '0',
    last_commit_time: timestampOf(s.lastCommitTime),
    groups: s.groups.map((g) => ({
      name: g.name,
      pending: String(g.pending),
      leased: String(g.leased),
      acked: String(g.acked),
      redelivered: String(g.redelivered),
      created_at: timestampOf(g.createdAt),
    })),
    location: s.location,
  };
}
