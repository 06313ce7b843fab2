import type { ChangeOp } from '../core/change';

/** Where a consumer group created by its first pull starts: every retained event, or only new ones. */
export type GroupStart = 'beginning' | 'now';

/** One event of a stream as a consumer receives it (leased to its group until `leasedUntil`). */
export interface StreamMessage {
  /** The event's id: its position in the stream (decimal text of an int64). Ack with it. */
  id: string;
  schema: string;
  table: string;
  op: ChangeOp;
  /** Primary key (or replica identity) values, in the json wire format's value mapping. */
  key: Record<string, unknown>;
  /** WAL position of the change, `X/Y`. */
  lsn: string;
  /** WAL position of the transaction's commit, `X/Y`. */
  commitLsn: string;
  /** Position inside the transaction, from 0. */
  seq: number;
  /** Commit time, ISO 8601 UTC with microseconds. */
  commitTime: string;
  xid: number;
  /** The wire format `payload` is encoded in (json, arrow, parquet, avro, proto). */
  format: string;
  /** The change encoded as one message of `format` (the same bytes a Kafka value would hold). */
  payload: Buffer;
  /** The Avro writer schema (JSON) of an `avro` payload, so any Avro library decodes it alone; '' for other formats. */
  avroSchema: string;
  /** How many times this group has been handed this event, this delivery included. */
  deliveryCount: number;
  /** When the lease ends and the event becomes visible to the group again unless acked (ISO 8601). */
  leasedUntil: string;
}

export interface PullRequest {
  stream: string;
  group: string;
  /** 1..{@link PULL_LIMITS}.maxMessages. */
  maxMessages: number;
  /** Lease length, 1..{@link PULL_LIMITS}.maxVisibilitySeconds. */
  visibilitySeconds: number;
  /** Recorded on each leased delivery (who holds it); informative only. */
  consumerId: string;
  /** Start of a group this pull creates; ignored for an existing group. Default `beginning`. */
  start?: GroupStart;
}

export interface PullResult {
  stream: string;
  group: string;
  /** True when this pull created the group. */
  groupCreated: boolean;
  messages: StreamMessage[];
}

export interface AckRequest {
  stream: string;
  group: string;
  /** Event ids (decimal text); duplicates are ignored. */
  ids: string[];
}

/** What happened to each acked id. Acking is idempotent: nothing here is an error. */
export interface AckResult {
  stream: string;
  group: string;
  /** Acked by this call. */
  acked: string[];
  /** Already acked by this group before (a second ack, or an ack racing another). */
  alreadyAcked: string[];
  /** Never delivered to this group (unknown id, another stream's id, or not pulled yet): left alone. */
  notDelivered: string[];
}

export interface ReplayRequest {
  stream: string;
  group: string;
  /** Redeliver events committed at or after this instant (RFC 3339 text) ... */
  since?: string;
  /** ... or at or after this commit LSN (`X/Y`). Exactly one of the two. */
  fromLsn?: string;
}

export interface ReplayResult {
  stream: string;
  group: string;
  /** Acked (or never delivered) events made visible to the group again by this call. */
  reset: number;
  /** Events the group now has to process (unacked, leased or not, plus events it has not seen yet). */
  pending: number;
}

export interface GroupInfo {
  name: string;
  /** Not acked: visible now, leased, or not yet pulled. */
  pending: number;
  /** Leased to a consumer right now. */
  leased: number;
  acked: number;
  /** Deliveries whose count is above 1 and not acked yet (redelivered after a lease expired). */
  redelivered: number;
  createdAt: string;
}

export interface StreamInfo {
  name: string;
  /** The format of the latest writer (events keep their own format). */
  format: string;
  flowId: string;
  events: number;
  /** First and last retained event ids ('' when empty). */
  firstId: string;
  lastId: string;
  /** Commit time of the last event ('' when empty). */
  lastCommitTime: string;
  groups: GroupInfo[];
}

export const PULL_LIMITS = { maxMessages: 10_000, maxVisibilitySeconds: 12 * 3600 } as const;
