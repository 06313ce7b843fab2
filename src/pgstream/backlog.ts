import type { PoolClient } from 'pg';
import { STREAM_SCHEMA } from './schema';
import type { GroupInfo, StreamInfo } from './types';

const S = STREAM_SCHEMA;
const ISO_US = `'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'`;

interface StreamRow {
  id: number;
  name: string;
  format: string;
  flow_id: string;
  events: string;
  first_id: string | null;
  last_id: string | null;
  last_commit_time: string | null;
}

interface GroupRow {
  stream_id: number;
  name: string;
  unseen: string;
  unacked: string;
  leased: string;
  redelivered: string;
  acked: string;
  created_at: string;
}

/** The streams stored at one DSN (all, or those named), each with its groups and their backlog. */
export async function describeStreams(client: PoolClient, names?: readonly string[]): Promise<StreamInfo[]> {
  const { rows: streams } = await client.query<StreamRow>(
    `SELECT s.id, s.name, s.format, s.flow_id, agg.events, agg.first_id, agg.last_id,
            to_char(last.commit_time AT TIME ZONE 'UTC', ${ISO_US}) AS last_commit_time
     FROM ${S}.streams s
     LEFT JOIN LATERAL (SELECT count(*) AS events, min(id)::text AS first_id, max(id)::text AS last_id FROM ${S}.events WHERE stream_id = s.id) agg ON true
     LEFT JOIN LATERAL (SELECT commit_time FROM ${S}.events WHERE stream_id = s.id ORDER BY id DESC LIMIT 1) last ON true
     WHERE $1::text[] IS NULL OR s.name = ANY($1)
     ORDER BY s.name`,
    [names && names.length > 0 ? names : null],
  );
  if (streams.length === 0) return [];
  const { rows: groups } = await client.query<GroupRow>(
    `SELECT g.stream_id, g.name,
            (SELECT count(*) FROM ${S}.events e WHERE e.stream_id = g.stream_id AND e.id > g.cursor) AS unseen,
            d.unacked, d.leased, d.redelivered, d.acked,
            to_char(g.created_at AT TIME ZONE 'UTC', ${ISO_US}) AS created_at
     FROM ${S}.groups g
     LEFT JOIN LATERAL (
       SELECT count(*) FILTER (WHERE acked_at IS NULL) AS unacked,
              count(*) FILTER (WHERE acked_at IS NULL AND leased_until > now()) AS leased,
              count(*) FILTER (WHERE acked_at IS NULL AND delivery_count > 1) AS redelivered,
              count(*) FILTER (WHERE acked_at IS NOT NULL) AS acked
       FROM ${S}.deliveries WHERE group_id = g.id) d ON true
     WHERE g.stream_id = ANY($1::int[])
     ORDER BY g.name`,
    [streams.map((s) => s.id)],
  );
  return streams.map((s) => ({
    name: s.name,
    format: s.format,
    flowId: s.flow_id,
    events: Number(s.events),
    firstId: s.first_id ?? '',
    lastId: s.last_id ?? '',
    lastCommitTime: s.last_commit_time ?? '',
    groups: groups.filter((g) => g.stream_id === s.id).map(toGroupInfo),
  }));
}

function toGroupInfo(g: GroupRow): GroupInfo {
  return {
    name: g.name,
    pending: Number(g.unseen) + Number(g.unacked),
    leased: Number(g.leased),
    acked: Number(g.acked),
    redelivered: Number(g.redelivered),
    createdAt: g.created_at,
  };
}

/** The id of stream `name` at this DSN, or undefined when no writer or consumer registered it. */
export async function findStream(client: PoolClient, name: string): Promise<number | undefined> {
  const { rows } = await client.query<{ id: number }>(`SELECT id FROM ${S}.streams WHERE name = $1`, [name]);
  return rows[0]?.id;
}

/** Events the group still has to process: unacked deliveries plus events past its cursor. */
export async function groupPending(client: PoolClient, streamId: number, groupId: number): Promise<number> {
  const { rows } = await client.query<{ n: string }>(
    `SELECT (SELECT count(*) FROM ${S}.deliveries WHERE group_id = $1 AND acked_at IS NULL)
          + (SELECT count(*) FROM ${S}.events e, ${S}.groups g WHERE g.id = $1 AND e.stream_id = $2 AND e.id > g.cursor) AS n`,
    [groupId, streamId],
  );
  return Number(rows[0]!.n);
}
