import { tableKey, type Batch, type Change, type TableRef, type TableSchema } from '../core/change';
import type { DdlGovernance } from '../config/env';
import type { Logger } from '../core/log';
import { formatLsn, type Lsn } from '../core/lsn';
import { diffTableSchemas, isCompatible, kindOf, type ColumnChange, type SchemaChange } from '../core/schemaChange';
import { DdlTexts, joinedText, type CapturedText } from './capturedText';
import type { Baseline, DdlEvent, DdlStatus, DdlStore, StreamPosition } from './store';

/** A table the flow does not deliver past `lsn` until its events are applied. */
interface HeldTable {
  table: TableRef;
  eventIds: Set<number>;
  /** Changes at or after this commit LSN are withheld. */
  lsn: Lsn;
  /** The checkpoint may not pass this while the table is held (a replay from it re-reads the table's changes). */
  checkpoint: Lsn;
}

/** What to do with one batch. */
export interface TrackedBatch {
  /** The batch without the changes of held tables. */
  batch: Batch;
  /** Events recorded for this batch (new approval workflows start for the unapplied ones). */
  announced: DdlEvent[];
  /** Gate off: changes to apply to the destinations before writing, then mark their events applied. */
  apply: Array<{ eventId: number; change: SchemaChange }>;
}

/**
 * Detects schema changes by diffing the schema each batch carries for a table against the table's
 * baseline persisted in `ductstream.ddl_baselines`, records them as `ddl_events`, and holds tables
 * whose changes wait for approval (DUCTSTREAM_DDL_GATE) or are incompatible.
 *
 * Contract: a change is announced once (event and baseline move in one transaction), so replays
 * and restarts neither lose nor repeat it. While a table is held its changes from the event's LSN
 * on are withheld and {@link checkpointBound} keeps the flow's checkpoint at or before the point
 * where they were first read: nothing is lost, and when the events are applied the stream is reread
 * from there (other tables' changes are replayed too; destinations are idempotent).
 */
export class SchemaTracker {
  private baselines = new Map<string, Baseline>();
  private readonly held = new Map<string, HeldTable>();
  /** Approved, not yet applied events of an ungated flow: applied before the next write. */
  private approved: DdlEvent[] = [];
  /** DDL text captured by the event trigger per table, attached to the table's next announced change (persisted). */
  private readonly texts: DdlTexts;

  constructor(
    private readonly flowId: string,
    private readonly store: DdlStore,
    private readonly governance: DdlGovernance,
    private readonly log: Logger,
  ) {
    this.texts = new DdlTexts(flowId, store);
  }

  /**
   * Reads baselines and unapplied events; the stream (re)opens at `from`. Returns the ids of events
   * that wait for a decision or an apply (their approval workflows are started again: harmless when
   * they run, needed when a crash came between announcing an event and starting its workflow).
   */
  async load(from: Lsn): Promise<number[]> {
    const waiting: number[] = [];
    this.baselines = await this.store.baselines(this.flowId);
    await this.texts.load();
    this.held.clear();
    this.approved = [];
    for (const e of await this.store.unapplied(this.flowId)) {
      if (e.status === 'approved' && !this.governance.gate && e.changes.every(isCompatible)) {
        this.approved.push(e);
        continue;
      }
      if (e.status !== 'rejected') waiting.push(e.id);
      if (e.kind !== 'drop_table') this.hold(e, from); // a dropped table has nothing to hold back
    }
    return waiting;
  }

  /** Events approved earlier (ungated) whose apply did not complete: apply them before writing. */
  takeApproved(): DdlEvent[] {
    const out = this.approved;
    this.approved = [];
    return out;
  }

  get heldTables(): ReadonlyMap<string, HeldTable> {
    return this.held;
  }

  /** The highest checkpoint allowed while tables are held (undefined: no bound). */
  checkpointBound(): Lsn | undefined {
    let bound: Lsn | undefined;
    for (const h of this.held.values()) if (bound === undefined || h.checkpoint < bound) bound = h.checkpoint;
    return bound;
  }

  /** True when one of the held tables' events is now applied (the stream must be reread from the bound). */
  async releasedAny(): Promise<boolean> {
    if (this.held.size === 0) return false;
    const open = new Set((await this.store.unapplied(this.flowId)).map((e) => e.id));
    for (const h of this.held.values()) if ([...h.eventIds].some((id) => !open.has(id))) return true;
    return false;
  }

  /** Diffs the batch's schemas against the baselines; `checkpoint` is where the flow stood before this batch. */
  async track(batch: Batch, checkpoint: Lsn): Promise<TrackedBatch> {
    const announced: DdlEvent[] = [];
    const apply: TrackedBatch['apply'] = [];
    for (const d of batch.ddl ?? []) {
      const key = tableKey(d.table);
      if (d.tag === 'DROP TABLE') {
        if (this.baselines.has(key)) announced.push(...(await this.tableDropped(d.table, d.lsn, d.ddl)));
      } else await this.texts.note(d, this.baselines.get(key)?.position);
    }
    const spans = spansByTable(batch.changes);
    for (const [key, schema] of batch.schemas) {
      if (this.held.has(key)) continue;
      const span = spans.get(key);
      const at = span?.first ?? { lsn: batch.firstLsn, seq: 0 };
      announced.push(...(await this.trackTable(schema, at, checkpoint, apply)));
      // Texts up to the table's last row here changed nothing these rows show (e.g. SET DEFAULT), or were announced.
      await this.texts.forgetUpTo(schema, span?.last ?? at);
    }
    return { batch: this.withoutHeld(batch), announced, apply };
  }

  /** Compares one table's shape in a batch (its first row at `at`) with its baseline; announces a difference. */
  private async trackTable(schema: TableSchema, at: StreamPosition, checkpoint: Lsn, apply: TrackedBatch['apply']): Promise<DdlEvent[]> {
    const base = this.baselines.get(tableKey(schema));
    if (!base || base.schema === null) {
      if (!base && this.baselines.size > 0) {
        const events = await this.announce(schema, null, schema, [{ kind: 'new_table' }], at);
        for (const e of events) this.route(e, checkpoint, apply, { table: schema, before: null, after: schema, changes: e.changes });
        return events;
      }
      await this.store.setBaseline(this.flowId, schema, at);
      this.baselines.set(tableKey(schema), { table: schema, schema, position: at });
      return [];
    }
    // A replay of changes older than the baseline's shape (after a restart or a release) is not a change.
    if (!after(at, base.position)) return [];
    const changes = diffTableSchemas(base.schema, schema);
    if (changes.length === 0) return [];
    const events = await this.announce(schema, base.schema, schema, changes, at);
    for (const e of events) this.route(e, checkpoint, apply, { table: schema, before: base.schema, after: schema, changes });
    return events;
  }

  /** Records a dropped table (no longer published) and forgets its baseline. */
  async tableDropped(table: TableRef, lsn: Lsn, ddl: string | null = null): Promise<DdlEvent[]> {
    const at = { lsn, seq: 0 };
    await this.texts.forgetUpTo(table);
    const base = this.baselines.get(tableKey(table));
    const status: DdlStatus = this.governance.gate && !this.governance.autoApprove ? 'pending' : 'applied';
    const events = await this.store.announce(
      [
        {
          flowId: this.flowId,
          lsn,
          table,
          kind: 'drop_table',
          ddl,
          before: base?.schema ?? null,
          after: null,
          changes: [{ kind: 'drop_table' }],
          status,
          actor: 'auto',
        },
      ],
      { flowId: this.flowId, table, schema: null, at },
    );
    this.baselines.delete(tableKey(table));
    this.log.info('schema change detected', { table: tableKey(table), kind: 'drop_table', lsn: formatLsn(lsn), status, event: events[0]?.id });
    return events;
  }

  private async announce(table: TableRef, before: TableSchema | null, next: TableSchema, changes: ColumnChange[], at: StreamPosition): Promise<DdlEvent[]> {
    const lsn = at.lsn;
    const g = this.governance;
    const compatible = changes.every(isCompatible);
    const status: DdlStatus = (!g.gate && compatible) || (g.gate && g.autoApprove) ? 'approved' : 'pending';
    const texts: CapturedText[] = this.texts.upTo(table, at);
    const events = await this.store.announce(
      [
        {
          flowId: this.flowId,
          lsn,
          table,
          kind: kindOf(changes),
          ddl: joinedText(texts),
          before,
          after: next,
          changes,
          status,
          actor: status === 'approved' ? 'auto' : '',
        },
      ],
      { flowId: this.flowId, table, schema: next, at },
      texts.map((t) => t.messageLsn),
    );
    this.texts.dropped(table, texts);
    this.baselines.set(tableKey(table), { table, schema: next, position: at });
    this.log.info('schema change detected', { table: tableKey(table), kind: kindOf(changes), lsn: formatLsn(lsn), status, event: events[0]?.id });
    return events;
  }

  private route(e: DdlEvent, checkpoint: Lsn, apply: TrackedBatch['apply'], change: SchemaChange): void {
    if (e.status === 'approved' && !this.governance.gate && e.changes.every(isCompatible)) apply.push({ eventId: e.id, change });
    else this.hold(e, checkpoint);
  }

  /**
   * Holds the event's table from the event's LSN on (an apply that failed: the table stops, the
   * flow's other tables go on); `checkpoint` is where a reread must start to see its changes again.
   */
  hold(e: DdlEvent, checkpoint: Lsn): void {
    const key = tableKey(e.table);
    const h = this.held.get(key);
    if (h) {
      h.eventIds.add(e.id);
      if (e.lsn < h.lsn) h.lsn = e.lsn;
      return;
    }
    this.held.set(key, { table: e.table, eventIds: new Set([e.id]), lsn: e.lsn, checkpoint });
    this.log.info('table held until its schema change is applied', { table: key, event: e.id, status: e.status, from: formatLsn(e.lsn) });
  }

  /** The batch without the changes of held tables (from each hold's LSN on). */
  withoutHeld(batch: Batch): Batch {
    if (this.held.size === 0) return batch;
    const changes = batch.changes.filter((c) => {
      const h = this.held.get(tableKey(c.table));
      return !h || c.commitLsn < h.lsn;
    });
    if (changes.length === batch.changes.length) return batch;
    const schemas = new Map(batch.schemas);
    for (const k of this.held.keys()) if (!changes.some((c) => tableKey(c.table) === k)) schemas.delete(k);
    return { ...batch, changes, schemas };
  }
}

/** The positions of each table's first and last change in a batch. */
function spansByTable(changes: readonly Change[]): Map<string, { first: StreamPosition; last: StreamPosition }> {
  const out = new Map<string, { first: StreamPosition; last: StreamPosition }>();
  for (const c of changes) {
    const k = tableKey(c.table);
    const at = { lsn: c.commitLsn, seq: c.seq };
    const span = out.get(k);
    if (span) span.last = at;
    else out.set(k, { first: at, last: at });
  }
  return out;
}

function after(a: StreamPosition, b: StreamPosition): boolean {
  return a.lsn > b.lsn || (a.lsn === b.lsn && a.seq > b.seq);
}
