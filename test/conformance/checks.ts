/**
 * The assertions of the conformance suite: what a reader returned versus what was sent.
 */
import { tableKey, type TableSchema } from '../../src/core/change';
import type { ChangeEnvelope } from '../../src/wire/codec';
import { canonicalRow, rowKeyOf, sortedRows } from './canonical';
import { positionOf, streamOrder, type TableState } from './materialize';
import type { DeliveredEvent, ReadBack } from './subject';
import { materialize } from './materialize';

/** Rows per table of a read-back, sorted like the expected state (every scenario table present). */
export function stateOf(back: ReadBack, schemas: readonly TableSchema[]): TableState {
  if (back.shape === 'events')
    return materialize(
      distinctEvents(withoutKeyChangeDeletes(back.events)).map((e) => e.envelope),
      schemas,
    );
  const out: TableState = new Map();
  for (const s of schemas) out.set(tableKey(s), sortedRows(back.tables.get(tableKey(s)) ?? [], s));
  return out;
}

/**
 * Events without the deletes event destinations send for the old key of a key change (same stream
 * position as the update that follows them): the change itself is the update.
 */
export function withoutKeyChangeDeletes(events: readonly DeliveredEvent[]): DeliveredEvent[] {
  const updates = new Set(events.filter((e) => e.envelope.op === 'update').map((e) => positionOf(e.envelope)));
  return events.filter((e) => e.envelope.op !== 'delete' || !updates.has(positionOf(e.envelope)));
}

/** The first delivery of each change (by stream position), in delivery order. */
export function distinctEvents(events: readonly DeliveredEvent[]): DeliveredEvent[] {
  const seen = new Set<string>();
  const out: DeliveredEvent[] = [];
  for (const e of events) {
    const p = positionOf(e.envelope);
    if (!seen.has(p)) {
      seen.add(p);
      out.push(e);
    }
  }
  return out;
}

export interface EventReport {
  delivered: number;
  distinct: number;
  /** Positions sent but never delivered. */
  missing: string[];
  /** Positions delivered that nobody sent (only checked when `sent` is given). */
  unexpected: string[];
  /** Deliveries of one change that differ in id or content from its first delivery. */
  inconsistentDuplicates: string[];
  /** Ids shared by different changes. */
  sharedIds: string[];
  /** Row keys whose changes were delivered out of stream order. */
  outOfOrder: string[];
}

/**
 * At-least-once, stable identities and per-row order of delivered events. `sent` (the envelopes
 * the scenario wrote) enables the missing/unexpected checks; without it (a real source in the
 * crash test) the caller checks the distinct count.
 */
export function checkEvents(delivered: readonly DeliveredEvent[], schemas: readonly TableSchema[], sent?: readonly ChangeEnvelope[]): EventReport {
  const events = withoutKeyChangeDeletes(delivered);
  const bySchema = new Map(schemas.map((s) => [tableKey(s), s]));
  const first = new Map<string, DeliveredEvent>();
  const idOwner = new Map<string, string>();
  const inconsistentDuplicates: string[] = [];
  const sharedIds = new Set<string>();
  const lastPerRow = new Map<string, ChangeEnvelope>();
  const outOfOrder = new Set<string>();
  for (const e of events) {
    const p = positionOf(e.envelope);
    const owner = idOwner.get(e.id);
    if (owner !== undefined && owner !== p) sharedIds.add(e.id);
    idOwner.set(e.id, p);
    const prior = first.get(p);
    if (prior) {
      if (prior.id !== e.id || JSON.stringify(normalize(prior.envelope)) !== JSON.stringify(normalize(e.envelope))) {
        inconsistentDuplicates.push(`${p} (${prior.where ?? '?'} vs ${e.where ?? '?'})`);
      }
      continue;
    }
    first.set(p, e);
    const schema = bySchema.get(`${e.envelope.schema}.${e.envelope.table}`);
    if (!schema || e.envelope.op === 'truncate') continue;
    const image = e.envelope.op === 'delete' ? e.envelope.key : (e.envelope.after ?? e.envelope.key);
    const row = `${tableKey(schema)} ${rowKeyOf(canonicalRow(image, schema), schema)}`;
    const last = lastPerRow.get(row);
    if (last && streamOrder(last, e.envelope) > 0) outOfOrder.add(row);
    lastPerRow.set(row, e.envelope);
  }
  const sentPositions = sent ? new Set(sent.map(positionOf)) : undefined;
  return {
    delivered: delivered.length,
    distinct: first.size,
    missing: sent ? sent.map(positionOf).filter((p) => !first.has(p)) : [],
    unexpected: sentPositions ? [...first.keys()].filter((p) => !sentPositions.has(p)) : [],
    inconsistentDuplicates,
    sharedIds: [...sharedIds],
    outOfOrder: [...outOfOrder],
  };
}

/** Envelope content for comparing duplicates (bigint and Buffer made JSON-safe). */
function normalize(e: ChangeEnvelope): unknown {
  return JSON.parse(JSON.stringify(e, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v)));
}
