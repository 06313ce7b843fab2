import type { HttpPeer } from './peers/httpPeer';
import type { KafkaBroker } from './peers/kafkaBroker';

/** A JSON change event as the Kafka and HTTP destinations send it (the fields the views read). */
interface Event {
  op: string;
  key?: Record<string, unknown>;
  after?: Record<string, unknown> | null;
}

/**
 * The rows a Kafka topic holds once log compaction has run: the last record per key (records of a
 * key share one partition, read in offset order), tombstones and `delete` events removed, each
 * remaining row's `after` image rendered by `render`, sorted.
 */
export async function compactedTopic(broker: KafkaBroker, topic: string, render: (row: Record<string, unknown>) => string): Promise<string[]> {
  const last = new Map<string, Buffer | null>();
  for (const r of await broker.readTopic(topic)) last.set(r.key!.toString(), r.value);
  return sorted(
    [...last.values()]
      .filter((v): v is Buffer => v !== null)
      .map((v) => JSON.parse(v.toString()) as Event)
      .filter((e) => e.op !== 'delete')
      .map((e) => render(e.after!)),
  );
}

/**
 * The rows a webhook consumer holds that upserts and deletes by primary key (`keyColumn`) in the
 * order the peer answered the requests of `path` with 2xx, rendered by `render`, sorted.
 */
export function webhookRows(peer: HttpPeer, path: string, keyColumn: string, render: (row: Record<string, unknown>) => string): string[] {
  const rows = new Map<string, string>();
  for (const req of peer.delivered(path)) {
    const e = JSON.parse(req.body.toString()) as Event;
    if (e.op === 'delete') rows.delete(String(e.key![keyColumn]));
    else if (e.after) rows.set(String(e.after[keyColumn]), render(e.after));
  }
  return sorted([...rows.values()]);
}

/** Rows rendered as `<number>|...`, sorted by that number, then as text. */
export function sorted(rows: string[]): string[] {
  return rows.sort((a, b) => parseInt(a) - parseInt(b) || a.localeCompare(b));
}
