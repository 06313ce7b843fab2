import type { AckResult, LocatedStreamInfo, PullResult, ReplayResult, StreamMessage } from '../../services/streams';

/**
 * How `ductstream-admin stream` prints results: lines for a person by default, one JSON document
 * with `-json` (ids and LSNs as strings; a json payload embedded as JSON, other formats base64).
 */

export function pullJson(r: PullResult): unknown {
  return { stream: r.stream, group: r.group, group_created: r.groupCreated, messages: r.messages.map(messageJson) };
}

function messageJson(m: StreamMessage): Record<string, unknown> {
  const base = {
    id: m.id,
    schema: m.schema,
    table: m.table,
    op: m.op,
    key: m.key,
    lsn: m.lsn,
    commit_lsn: m.commitLsn,
    seq: m.seq,
    commit_time: m.commitTime,
    xid: m.xid,
    format: m.format,
    delivery_count: m.deliveryCount,
    leased_until: m.leasedUntil,
  };
  return m.format === 'json'
    ? { ...base, payload: JSON.parse(m.payload.toString('utf8')) as unknown }
    : { ...base, payload_base64: m.payload.toString('base64'), ...(m.avroSchema ? { avro_schema: m.avroSchema } : {}) };
}

export function pullText(r: PullResult, consumerId: string, visibility: number): string {
  const head = `stream ${r.stream}, group ${r.group}${r.groupCreated ? ' (created by this pull)' : ''}`;
  if (r.messages.length === 0) return `${head}: no messages available\n`;
  const until = r.messages[r.messages.length - 1]!.leasedUntil;
  const lines = [`${head}: ${r.messages.length} message${r.messages.length === 1 ? '' : 's'} leased to ${consumerId} for ${visibility}s (until ${until})`];
  for (const m of r.messages) {
    lines.push(
      `id ${m.id}  ${m.op} ${m.schema}.${m.table} key ${JSON.stringify(m.key)}  commit ${m.commitLsn} seq ${m.seq} at ${m.commitTime}  delivery ${m.deliveryCount}`,
    );
    lines.push(m.format === 'json' ? `  ${m.payload.toString('utf8')}` : `  (${m.format} payload, ${m.payload.length} bytes; -json shows it as base64)`);
  }
  lines.push(`ack with: ductstream-admin stream ack -stream ${r.stream} -group ${r.group} -ids ${r.messages.map((m) => m.id).join(',')}`);
  return lines.join('\n') + '\n';
}

export function ackJson(r: AckResult): unknown {
  return { stream: r.stream, group: r.group, acked: r.acked, already_acked: r.alreadyAcked, not_delivered: r.notDelivered };
}

export function ackText(r: AckResult): string {
  const lines = [`stream ${r.stream}, group ${r.group}: acked ${r.acked.length}${r.acked.length ? ` (${r.acked.join(',')})` : ''}`];
  if (r.alreadyAcked.length) lines.push(`already acked, nothing changed: ${r.alreadyAcked.join(',')}`);
  if (r.notDelivered.length) lines.push(`never delivered to group ${r.group}, left alone: ${r.notDelivered.join(',')}`);
  return lines.join('\n') + '\n';
}

export function replayJson(r: ReplayResult, from: { since?: string; fromLsn?: string }): unknown {
  return { stream: r.stream, group: r.group, ...(from.since ? { since: from.since } : { from_lsn: from.fromLsn }), reset: r.reset, pending: r.pending };
}

export function replayText(r: ReplayResult, from: { since?: string; fromLsn?: string }): string {
  const what = from.since ? `committed since ${from.since}` : `from commit LSN ${from.fromLsn}`;
  return `stream ${r.stream}, group ${r.group}: ${r.reset} event${r.reset === 1 ? '' : 's'} ${what} made visible again; ${r.pending} pending\n`;
}

export function listJson(streams: LocatedStreamInfo[]): unknown {
  return {
    streams: streams.map((s) => ({
      name: s.name,
      format: s.format,
      flow_id: s.flowId,
      location: s.location,
      events: s.events,
      first_id: s.firstId,
      last_id: s.lastId,
      last_commit_time: s.lastCommitTime,
      groups: s.groups.map((g) => ({
        name: g.name,
        pending: g.pending,
        leased: g.leased,
        acked: g.acked,
        redelivered: g.redelivered,
        created_at: g.createdAt,
      })),
    })),
  };
}

export function listText(streams: LocatedStreamInfo[]): string {
  if (streams.length === 0) return 'no streams (a flow with a pgstream destination declares one)\n';
  const lines: string[] = [];
  for (const s of streams) {
    const span = s.events > 0 ? `, ids ${s.firstId}..${s.lastId}, last commit ${s.lastCommitTime}` : '';
    lines.push(`${s.name}  ${s.events} events${span}  format ${s.format || '-'}  flow ${s.flowId || '-'}  at ${s.location}`);
    if (s.groups.length === 0) lines.push('  no consumer groups yet (the first pull creates one)');
    for (const g of s.groups) lines.push(`  group ${g.name}: pending ${g.pending}, leased ${g.leased}, acked ${g.acked}, redelivered ${g.redelivered}`);
  }
  return lines.join('\n') + '\n';
}
