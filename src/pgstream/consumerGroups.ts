import type { PoolClient } from 'pg';
import type { ChangeOp } from '../core/change';
import { STREAM_SCHEMA } from './schema';
import type { GroupStart, StreamMessage } from './types';

const S = STREAM_SCHEMA;

export interface GroupRef {
  id: number;
  created: boolean;
}

/**
 * The group `name` of stream `streamId`, created when missing. A new group starts at the
 * beginning of the retained stream (cursor 0), or after the last event written so far (`now`).
 */
export async function ensureGroup(client: PoolClient, streamId: number, name: string, start: GroupStart): Promise<GroupRef> {
  const found = await findGroup(client, streamId, name);
  if (found !== undefined) return { id: found, created: false };
  const { rows } = await client.query<{ id: number }>(
    `INSERT INTO ${S}.groups (stream_id, name, cursor, start_mode)
     SELECT $1, $2, CASE WHEN $3 = 'now' THEN coalesce((SELECT max(id) FROM ${S}.events WHERE stream_id = $1), 0) ELSE 0 END, $3
     ON CONFLICT (stream_id, name) DO NOTHING RETURNING id`,
    [streamId, name, start],
  );
  if (rows[0]) return { id: rows[0].id, created: true };
  return { id: (await findGroup(client, streamId, name))!, created: false };
}

export async function findGroup(client: PoolClient, streamId: number, name: string): Promise<number | undefined> {
  const { rows } = await client.query<{ id: number }>(`SELECT id FROM ${S}.groups WHERE stream_id = $1 AND name = $2`, [streamId, name]);
  return rows[0]?.id;
}

interface MessageRow {
  id: string;
  table_schema: string;
  table_name: string;
  op: ChangeOp;
  key: Record<string, unknown>;
  lsn: string;
  commit_lsn: string;
  seq: number;
  commit_time: string;
  xid: string;
  format: string;
  payload: Buffer;
  avro_schema: string | null;
  delivery_count: number;
  leased_until: string;
}

const ISO_US = `'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'`;

/**
 * Leases up to `max` events of the group for `visibilitySeconds`, in stream order; one statement
 * in the usual case.
 *
 * An event is eligible when the group has not acked it and no lease on it is running. Eligible
 * delivery rows are taken with `FOR UPDATE SKIP LOCKED` and their lease stamped in the same
 * statement: concurrent pullers of one group never lease the same event while a lease runs. A
 * lease that ran out makes the event eligible again; its delivery count goes up on each lease.
 * The scan starts at the group's first unacked delivery (`min(event_id)`, an ordered index probe
 * that also prunes index entries of acked rows), so acked history never slows a pull down.
 * Rows are found by key (LATERAL ... LIMIT 1) and updated by the ctid of the row this statement
 * locked, whatever the planner's statistics say: a stale estimate for a new group must not turn a
 * pull or an ack into a scan of the group's history.
 *
 * Deliveries are created lazily: when the eligible rows are fewer than `max`, the same statement
 * takes the group row (SKIP LOCKED), leases the next events after its cursor by inserting their
 * delivery rows already leased, and moves the cursor past them. They come after every delivery
 * row of the group, so stream order holds, and no delivery row exists for an event nobody pulled.
 * When another puller held the group row, a second statement waits for it and leases new events
 * only; it holds no delivery row while it waits, so it cannot deadlock with a replay (which takes
 * the group row, then delivery rows).
 * No delivery row exists after the cursor (pulls and replays write them only under the group row,
 * at or before the cursor they leave), so the new rows are a plain INSERT: a violation of that
 * would fail the pull on the primary key, never lease an event twice.
 * The statements are prepared once per connection (named): planning them cost about as much as
 * running them for 100 events. Their plans do not depend on statistics (see above), so the
 * generic plan PostgreSQL switches to is the same plan.
 */
export async function leaseEvents(
  client: PoolClient,
  streamId: number,
  groupId: number,
  max: number,
  visibilitySeconds: number,
  consumerId: string,
): Promise<StreamMessage[]> {
  const params = [groupId, max, visibilitySeconds, consumerId, streamId];
  const { rows } = await client.query<LeaseRow>({ name: 'ductstream_stream_lease', text: LEASE_SQL, values: params });
  const messages = rows.filter((r) => r.id !== null).map(toMessage);
  if (messages.length >= max || !rows[0]?.group_busy) return messages;
  params[1] = max - messages.length;
  const more = await client.query<LeaseRow>({ name: 'ductstream_stream_lease_new', text: LEASE_NEW_SQL, values: params });
  return [...messages, ...more.rows.filter((r) => r.id !== null).map(toMessage)];
}

interface LeaseRow extends MessageRow {
  /** True when new events were needed but another puller held the group row. */
  group_busy: boolean;
}

/** Leases new events after the group's cursor ($1 group, $2 how many, $3 seconds, $4 consumer, $5 stream), from CTE `need` and `g`. */
const FRESH_CTES = `
     fresh AS (
       SELECT e.id FROM ${S}.events e
       WHERE e.stream_id = $5 AND e.id > (SELECT cursor FROM g) ORDER BY e.id LIMIT (SELECT n FROM need)),
     copied AS (
       INSERT INTO ${S}.deliveries (group_id, event_id, delivery_count, consumer_id, leased_until, last_delivered_at)
       SELECT $1, id, 1, $4, now() + make_interval(secs => $3), now() FROM fresh ORDER BY id
       RETURNING event_id, delivery_count, leased_until),
     moved AS (UPDATE ${S}.groups SET cursor = (SELECT max(id) FROM fresh) WHERE id = $1 AND EXISTS (SELECT 1 FROM fresh))`;

/** The events of the leased rows `l`, one row each, in stream order; at least one row (nulls when none), carrying `busy`. */
function messagesOf(leasedRows: string, busy: string): string {
  return `
     SELECT (${busy}) AS group_busy, m.* FROM (SELECT 1) one LEFT JOIN (
       SELECT e.id, e.table_schema, e.table_name, e.op, e.key, e.lsn::text AS lsn, e.commit_lsn::text AS commit_lsn, e.seq,
              to_char(e.commit_time AT TIME ZONE 'UTC', ${ISO_US}) AS commit_time, e.xid, e.format, e.payload, e.avro_schema,
              l.delivery_count, to_char(l.leased_until AT TIME ZONE 'UTC', ${ISO_US}) AS leased_until
       FROM (${leasedRows}) l
       CROSS JOIN LATERAL (SELECT * FROM ${S}.events e WHERE e.stream_id = $5 AND e.id = l.event_id LIMIT 1) e) m ON true
     ORDER BY m.id`;
}

const LEASE_SQL = `WITH floor AS (SELECT min(event_id) AS id FROM ${S}.deliveries WHERE group_id = $1 AND acked_at IS NULL),
     picked AS (
       SELECT d.ctid AS row_id FROM ${S}.deliveries d, floor
       WHERE d.group_id = $1 AND d.event_id >= floor.id AND d.acked_at IS NULL AND (d.leased_until IS NULL OR d.leased_until <= now())
       ORDER BY d.event_id LIMIT $2 FOR UPDATE OF d SKIP LOCKED),
     leased AS (
       UPDATE ${S}.deliveries d
       SET leased_until = now() + make_interval(secs => $3), consumer_id = $4,
           delivery_count = d.delivery_count + 1, last_delivered_at = now()
       WHERE d.ctid = ANY (ARRAY(SELECT row_id FROM picked)) AND d.group_id = $1
       RETURNING d.event_id, d.delivery_count, d.leased_until),
     need AS (SELECT $2 - (SELECT count(*) FROM picked) AS n),
     g AS MATERIALIZED (SELECT cursor FROM ${S}.groups WHERE id = $1 AND (SELECT n FROM need) > 0 FOR UPDATE SKIP LOCKED),${FRESH_CTES}
     ${messagesOf('SELECT * FROM leased UNION ALL SELECT * FROM copied', '(SELECT n FROM need) > 0 AND NOT EXISTS (SELECT 1 FROM g)')}`;

const LEASE_NEW_SQL = `WITH need AS (SELECT $2::int AS n),
     g AS MATERIALIZED (SELECT cursor FROM ${S}.groups WHERE id = $1 FOR UPDATE),${FRESH_CTES}
     ${messagesOf('SELECT * FROM copied', 'false')}`;

function toMessage(r: MessageRow): StreamMessage {
  return {
    id: r.id,
    schema: r.table_schema,
    table: r.table_name,
    op: r.op,
    key: r.key,
    lsn: r.lsn,
    commitLsn: r.commit_lsn,
    seq: Number(r.seq),
    commitTime: r.commit_time,
    xid: Number(r.xid),
    format: r.format,
    payload: r.payload,
    avroSchema: r.avro_schema ?? '',
    deliveryCount: r.delivery_count,
    leasedUntil: r.leased_until,
  };
}

export type AckStatus = 'acked' | 'already_acked' | 'not_delivered';

/**
 * Marks events done for this group only. Idempotent: an id acked before, or never delivered to
 * this group, changes nothing and is reported as such. A lease held by another consumer of the
 * group does not stop the ack (acks are per group, as in Redis streams).
 */
export async function ackEvents(client: PoolClient, groupId: number, ids: readonly string[]): Promise<Map<string, AckStatus>> {
  // One statement. The UPDATE finds rows by key (`= ANY` on the primary key, an index probe per
  // id): a row a concurrent pull is re-leasing is waited for and then updated in its new version
  // (READ COMMITTED re-checks the latest row). Rows matched by a ctid read before the wait would be
  // gone by then and the ack lost. The delivered-ids subquery reads the statement's snapshot.
  const { rows } = await client.query<{ acked: string[]; delivered: string[] }>({
    name: 'ductstream_stream_ack',
    text: `WITH req AS (SELECT DISTINCT unnest($2::bigint[]) AS event_id),
     done AS (
       UPDATE ${S}.deliveries d SET acked_at = now(), leased_until = NULL
       WHERE d.group_id = $1 AND d.event_id = ANY ($2::bigint[]) AND d.acked_at IS NULL AND d.delivery_count > 0
       RETURNING d.event_id)
     SELECT ARRAY(SELECT event_id::text FROM done) AS acked,
            ARRAY(SELECT req.event_id::text FROM req CROSS JOIN LATERAL (
              SELECT 1 FROM ${S}.deliveries d WHERE d.group_id = $1 AND d.event_id = req.event_id AND d.delivery_count > 0 LIMIT 1) x) AS delivered`,
    values: [groupId, ids],
  });
  const acked = new Set(rows[0]!.acked);
  const delivered = new Set(rows[0]!.delivered);
  return new Map(ids.map((id) => [id, acked.has(id) ? 'acked' : delivered.has(id) ? 'already_acked' : 'not_delivered']));
}

/** Where a replay starts: a commit time (RFC 3339 text) or a commit LSN (`X/Y`). */
export type ReplayFrom = { since: string } | { fromLsn: string };

/**
 * Makes every retained event committed at or after `from` visible to the group again: acked
 * deliveries are reopened, and events from before the group's start get delivery rows. Events the
 * group holds unacked keep their lease (no event is leased twice at once). Events after the
 * group's cursor are pending anyway. Returns the number of deliveries reopened or added.
 */
export async function replayGroup(client: PoolClient, streamId: number, groupId: number, from: ReplayFrom): Promise<number> {
  const condition = 'since' in from ? 'e.commit_time >= $3::timestamptz' : 'e.commit_lsn >= $3::pg_lsn';
  const bound = 'since' in from ? from.since : from.fromLsn;
  await client.query('BEGIN');
  try {
    const { rows } = await client.query<{ cursor: string }>(`SELECT cursor FROM ${S}.groups WHERE id = $1 FOR UPDATE`, [groupId]);
    const res = await client.query(
      `INSERT INTO ${S}.deliveries (group_id, event_id)
       SELECT $1, e.id FROM ${S}.events e WHERE e.stream_id = $2 AND e.id <= $4 AND ${condition}
       ON CONFLICT (group_id, event_id) DO UPDATE SET acked_at = NULL, leased_until = NULL, consumer_id = NULL
       WHERE ${S}.deliveries.acked_at IS NOT NULL`,
      [groupId, streamId, bound, rows[0]!.cursor],
    );
    await client.query('COMMIT');
    return res.rowCount ?? 0;
  } catch (e) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw e;
  }
}
