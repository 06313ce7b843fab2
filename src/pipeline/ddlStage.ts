import { tableKey, type Batch, type TableRef } from '../core/change';
import type { DdlGovernance } from '../config/env';
import { describeError, DuctError } from '../core/errors';
import type { Logger } from '../core/log';
import type { Lsn } from '../core/lsn';
import type { SchemaChange } from '../core/schemaChange';
import { isSchemaEvolving, type Destination } from '../destinations/destination';
import { schemaChangeOf, type DdlStore } from '../ddl/store';
import { SchemaTracker } from '../ddl/tracker';

/** How often a flow with held tables looks whether their events were applied. */
const RELEASE_CHECK_MS = 1000;

/**
 * The schema-change stage of a flow's data path: every batch passes through it before the
 * destinations. It announces changes (see {@link SchemaTracker}), applies compatible ones to the
 * destinations right away when the gate is off, withholds the changes of held tables, and says
 * when a released table needs the stream reread from the hold point.
 */
export class DdlStage {
  private readonly tracker: SchemaTracker;
  private lastReleaseCheck = 0;
  /** Events found waiting when the stream opened: their approval workflows are (re)started. */
  private recovered: number[] = [];

  constructor(
    private readonly flowId: string,
    private readonly store: DdlStore,
    governance: DdlGovernance,
    private readonly log: Logger,
  ) {
    this.tracker = new SchemaTracker(flowId, store, governance, log);
  }

  /**
   * At run start: with no baselines yet, records the published tables as known (a table published
   * later is then a new table); tables no longer published are announced as dropped.
   */
  async prepare(published: TableRef[], at: Lsn): Promise<void> {
    const baselines = await this.store.baselines(this.flowId);
    if (baselines.size === 0) {
      await this.store.noteTables(this.flowId, published);
      return;
    }
    await this.tracker.load(at);
    const now = new Set(published.map(tableKey));
    for (const [key, b] of baselines) if (!now.has(key)) await this.tracker.tableDropped(b.table, at);
  }

  /** The stream (re)opens at `from`. */
  async open(from: Lsn): Promise<void> {
    this.recovered = await this.tracker.load(from);
    this.lastReleaseCheck = Date.now();
  }

  /**
   * Before reading: applies approved changes whose apply did not finish (ungated), and returns
   * true when a held table was released, so the stream must reopen at the checkpoint.
   */
  async beforeRead(destinations: Destination[]): Promise<boolean> {
    for (const e of this.tracker.takeApproved()) await this.applyEvent(e.id, schemaChangeOf(e), destinations);
    if (this.tracker.heldTables.size === 0 || Date.now() - this.lastReleaseCheck < RELEASE_CHECK_MS) return false;
    this.lastReleaseCheck = Date.now();
    const released = await this.tracker.releasedAny();
    if (released) this.log.info('a held table was released; rereading the stream from the hold point');
    return released;
  }

  /** Runs a batch through the stage; returns what to write and the events that wait for a decision. */
  async process(batch: Batch, checkpointBefore: Lsn, destinations: Destination[]): Promise<{ batch: Batch; waiting: number[] }> {
    const t = await this.tracker.track(batch, checkpointBefore);
    for (const a of t.apply) await this.applyEvent(a.eventId, a.change, destinations);
    const waiting = this.takeRecovered().concat(
      t.announced.filter((e) => e.status === 'pending' || (e.status === 'approved' && !t.apply.some((a) => a.eventId === e.id))).map((e) => e.id),
    );
    return { batch: t.batch, waiting };
  }

  /** Waiting events found when the stream opened, once. */
  takeRecovered(): number[] {
    const out = this.recovered;
    this.recovered = [];
    return out;
  }

  /** The highest checkpoint allowed while tables are held. */
  checkpointBound(): Lsn | undefined {
    return this.tracker.checkpointBound();
  }

  private async applyEvent(id: number, change: SchemaChange, destinations: Destination[]): Promise<void> {
    try {
      await applyToDestinations(change, destinations);
    } catch (e) {
      await this.store.transition(id, ['approved'], 'failed', 'auto', describeError(e));
      throw e;
    }
    await this.store.transition(id, ['approved'], 'applied', 'auto');
    this.log.info('schema change applied', { event: id, table: tableKey(change.table), kinds: change.changes.map((c) => c.kind).join(',') });
  }
}

/** Applies a schema change to every destination that evolves its tables; the others carry the new shape in their messages. */
export async function applyToDestinations(change: SchemaChange, destinations: Destination[]): Promise<void> {
  for (const d of destinations) {
    if (!isSchemaEvolving(d)) continue;
    try {
      await d.applySchemaChange(change);
    } catch (e) {
      if (e instanceof DuctError) throw e;
      throw new DuctError('destination_failed', `destination "${d.name}": applying the schema change of ${tableKey(change.table)}: ${describeError(e)}`, {
        retry: 'transient',
        cause: e,
      });
    }
  }
}
