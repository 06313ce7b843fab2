import { tableKey, type Batch, type TableRef } from '../core/change';
import type { DdlGovernance } from '../config/env';
import { describeError, DuctError } from '../core/errors';
import type { Logger } from '../core/log';
import type { Lsn } from '../core/lsn';
import type { SchemaChange } from '../core/schemaChange';
import { isSchemaEvolving, type Destination } from '../destinations/destination';
import { schemaChangeOf, type DdlEvent, type DdlStore } from '../ddl/store';
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

  /** True while a table is held (its changes withheld until its schema change is decided). */
  holdsTables(): boolean {
    return this.tracker.heldTables.size > 0;
  }

  /** Before reading from an open stream: true when a held table was released, so the stream must reopen at the checkpoint. */
  async releasedAny(): Promise<boolean> {
    if (this.tracker.heldTables.size === 0 || Date.now() - this.lastReleaseCheck < RELEASE_CHECK_MS) return false;
    this.lastReleaseCheck = Date.now();
    const released = await this.tracker.releasedAny();
    if (released) this.log.info('a held table was released; rereading the stream from the hold point');
    return released;
  }

  /**
   * Right after the stream (re)opens at `at`, before reading: applies the changes approved earlier
   * (gate off) whose apply did not finish, e.g. a crash between recording and applying them. One
   * that fails holds its table (see {@link process}).
   */
  async applyApproved(destinations: Destination[], at: Lsn): Promise<void> {
    for (const e of this.tracker.takeApproved()) {
      if (!(await this.applyEvent(e, schemaChangeOf(e), destinations, at))) this.recovered.push(e.id);
    }
  }

  /** Runs a batch through the stage; returns what to write and the events that wait for a decision. */
  async process(batch: Batch, checkpointBefore: Lsn, destinations: Destination[]): Promise<{ batch: Batch; waiting: number[] }> {
    const t = await this.tracker.track(batch, checkpointBefore);
    const failed: number[] = [];
    for (const a of t.apply) {
      const e = t.announced.find((x) => x.id === a.eventId)!;
      if (!(await this.applyEvent(e, a.change, destinations, checkpointBefore))) failed.push(e.id);
    }
    const waiting = this.takeRecovered().concat(
      t.announced.filter((e) => e.status === 'pending' || (e.status === 'approved' && !t.apply.some((a) => a.eventId === e.id))).map((e) => e.id),
      failed,
    );
    return { batch: failed.length > 0 ? this.tracker.withoutHeld(t.batch) : t.batch, waiting };
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

  /**
   * Applies an approved change (gate off) and marks it applied. A change a destination refuses for
   * good (a `never` error: e.g. a type it cannot alter) is marked failed with the reason and holds
   * its table from the change's LSN (`checkpoint`: where a reread starts): the flow's other tables go
   * on, and `ddl apply` (after fixing the destination) or `ddl reject` decides. Returns false then.
   * Errors that may pass (the destination is away) are thrown: the step retries, the event stays
   * approved and is applied when the stream reopens.
   */
  private async applyEvent(e: DdlEvent, change: SchemaChange, destinations: Destination[], checkpoint: Lsn): Promise<boolean> {
    try {
      await applyToDestinations(change, destinations);
    } catch (err) {
      if (!(err instanceof DuctError) || err.retry !== 'never') throw err;
      const reason = describeError(err);
      await this.store.transition(e.id, ['approved'], 'failed', 'auto', reason);
      this.tracker.hold(e, checkpoint);
      this.log.warn('a schema change could not be applied; its table is held until the event is applied or rejected', {
        event: e.id,
        table: tableKey(change.table),
        error: reason,
      });
      return false;
    }
    await this.store.transition(e.id, ['approved'], 'applied', 'auto');
    this.log.info('schema change applied', { event: e.id, table: tableKey(change.table), kinds: change.changes.map((c) => c.kind).join(',') });
    return true;
  }
}

/** Applies a schema change to every destination that evolves its tables; the others carry the new shape in their messages. */
export async function applyToDestinations(change: SchemaChange, destinations: Destination[]): Promise<void> {
  for (const d of destinations) {
    if (!isSchemaEvolving(d)) continue;
    try {
      await d.applySchemaChange(change);
    } catch (e) {
      if (e instanceof DuctError) {
        const message = e.message.startsWith('destination "') ? e.message : `destination "${d.name}": ${e.message}`;
        throw new DuctError(e.code, message, {
          retry: e.retry,
          ...(e.hint !== undefined ? { hint: e.hint } : {}),
          ...(e.field ? { field: e.field } : {}),
          cause: e,
        });
      }
      throw new DuctError('destination_failed', `destination "${d.name}": applying the schema change of ${tableKey(change.table)}: ${describeError(e)}`, {
        retry: 'transient',
        cause: e,
      });
    }
  }
}
