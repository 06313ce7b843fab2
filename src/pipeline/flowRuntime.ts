import { tableKey, type Batch } from '../core/change';
import { DuctError, describeError, invalidArgument } from '../core/errors';
import { observeBatchDuration } from '../status/metrics';
import { recordCaughtUp, recordDelivered, recordFailure, recordHeartbeat } from '../status/liveCounters';
import type { Flow } from '../core/flow';
import type { Logger } from '../core/log';
import { formatLsn, type Lsn } from '../core/lsn';
import type { Destination } from '../destinations/destination';
import { parsePostgresSourceConfig, type PostgresSourceConfig } from '../source/postgres/config';
import { preparePostgresSource } from '../source/postgres/prepare';
import { PostgresSource } from '../source/postgres/source';
import type { Source } from '../source/source';
import type { BackfillHold, RunnerDeps } from './deps';
import { BatchReader } from './batchReader';
import { CatchUp } from './catchUp';
import { applyToDestinations, DdlStage } from './ddlStage';
import type { SchemaChange } from '../core/schemaChange';
import { openFlowDestinations } from './destinations';
import { toEncodedBatch } from './encodedBatch';
import type { FlowProgress } from './progress';
import { writeToAll } from './writeAll';
import { asError, emptyTally, idleLoop, idleWaitAllowed, MIN_RUN_AHEAD_MS } from './stepLoop';
import type { AttachedStep, DeliverResult, LoopState, StepHooks, StepOutcome, Tally } from './stepLoop';

export type { DeliverResult, StopReason } from './stepLoop';

/**
 * The live side of one flow in this process: the replication stream, the opened destinations,
 * and the position up to which the stream has been delivered. DBOS steps drive it; if anything
 * fails it closes itself, and the next step reopens from the position the workflow passes in
 * (the durable checkpoint), so a retried step re-reads what was not checkpointed.
 */
export class FlowRuntime {
  private source?: Source;
  private reader?: BatchReader;
  private destinations: Destination[] = [];
  /** Position the open stream has delivered up to; meaningful only while `source` is open. */
  private position: Lsn = -1n;
  /** The checkpoint the last step returned: below `position` while a table is held for a schema change, or while running ahead. */
  private returned: Lsn = -1n;
  /** The delivery loop over the open stream and the step attached to it. */
  private loop: LoopState = idleLoop();
  /** What the loop delivered since the last step ended. */
  private tally: Tally = emptyTally(-1n);
  /** Schema-change detection and governance (needs the state database). */
  private readonly ddl?: DdlStage;
  /** Whether the open stream has caught up with the WAL written when it opened (before that, no poll is empty). */
  private readonly catchUp = new CatchUp();
  /** Set while a backfill hold left changes out: the checkpoint stays here until the hold ends. */
  private frozenAt: Lsn | null = null;
  readonly sourceConfig: PostgresSourceConfig;
  private readonly log: Logger;

  constructor(
    readonly flow: Flow,
    private readonly deps: RunnerDeps,
    /** This flow's live counters (its entry of the context's ProgressBoard). */
    private readonly progress: FlowProgress,
  ) {
    this.sourceConfig = parsePostgresSourceConfig(flow.source.options, 'source.options');
    this.log = deps.log.child({ flow: flow.id });
    if (deps.ddl) this.ddl = new DdlStage(flow.id, deps.ddl, deps.env.ddl, this.log);
  }

  get slot(): string {
    return this.sourceConfig.slot;
  }

  /** Creates what the source needs (publication, slot, state table) and returns the start position. */
  async prepare(startLsnOverride: Lsn | undefined): Promise<{ startLsn: Lsn; checkpoint: Lsn | null }> {
    // A run that ended early (cancelled, interrupted) may have left the loop running ahead: let it finish.
    this.loop.runAhead = false;
    await this.loop.done;
    const prepared = await preparePostgresSource(this.sourceConfig, { flowId: this.flow.id, log: this.log });
    const confirmed = prepared.confirmedFlushLsn;
    if (startLsnOverride !== undefined && (confirmed === null || startLsnOverride < confirmed)) {
      // PostgreSQL would start at the slot's confirmed position instead: never claim a replay that does not happen.
      throw invalidArgument(
        'start_lsn',
        `${formatLsn(startLsnOverride)} is before replication slot ${this.slot}'s confirmed position ${confirmed === null ? '(none)' : formatLsn(confirmed)}, from which PostgreSQL streams instead`,
        'start at or after the confirmed position',
      );
    }
    await this.openDestinations();
    const checkpoint = await this.deps.checkpoints.get(this.flow.id, this.slot);
    const startLsn = startLsnOverride ?? checkpoint ?? 0n;
    await this.ddl?.prepare(prepared.tables, startLsn > (prepared.confirmedFlushLsn ?? 0n) ? startLsn : (prepared.confirmedFlushLsn ?? 0n));
    return { startLsn, checkpoint };
  }

  /**
   * One step: delivers from `from` until the step's bounds (DUCTSTREAM_STEP_MAX_ROWS / _MS), an
   * empty poll, a stop request, or the end of a backfill hold, and returns where the checkpoint may
   * move: only up to what every destination has acknowledged. A step that has delivered nothing
   * when its poll comes back empty may instead keep waiting on the open stream for the first change
   * (`hooks.idleWait`, see idleWaitAllowed), up to DUCTSTREAM_STEP_IDLE_MAX_MS: an idle flow then
   * records a step per idle bound, not one per `batch_timeout`.
   *
   * Delivery does not pause at the step boundary. When `hooks.endOfStep` allows it, the delivery
   * loop keeps reading and writing while the workflow records the step and commits the checkpoint
   * (run-ahead), and the next step is credited with what it wrote meanwhile; so a change committed
   * during the boundary reaches the destinations without waiting for the next step. Run-ahead is
   * bounded (one step's rows and time at most, never while a backfill holds the checkpoint) and
   * stops with the run: what it wrote past the last recorded checkpoint is delivered again by the
   * next run (at-least-once, as after a crash). A failure while running ahead is thrown by the next step.
   */
  async deliver(from: Lsn, hooks: StepHooks): Promise<DeliverResult> {
    try {
      const failed = this.loop.failure;
      if (failed !== undefined) throw failed;
      if (this.frozenAt !== null && !(await this.currentHold())) {
        // The backfill ended: re-read from the checkpoint before the first change left out, with
        // destinations reopened (their cached watermarks predate the snapshot rows).
        this.log.info('backfill hold ended; re-reading from the held checkpoint', { from: formatLsn(from) });
        this.frozenAt = null;
        await this.close();
      }
      if (this.ddl && this.source && (await this.ddl.releasedAny())) await this.closeStream();
      await this.ensureOpen(from);
      const t = this.tally;
      if (t.end === 'held') t.end = undefined; // a new hold began: read on past the dropped batch, as before
      if (from > t.checkpoint) t.checkpoint = from;
      t.ddlEvents.push(...(this.ddl?.takeRecovered() ?? []));
      this.loop.shouldStop = hooks.shouldStop;
      const outcome = await new Promise<StepOutcome>((settle) => {
        this.loop.attached = { started: Date.now(), from, idle: false, hooks, settle };
        if (!this.loop.running) this.startLoop();
      });
      if ('error' in outcome) throw outcome.error;
      return outcome.result;
    } catch (e) {
      this.log.warn('delivery failed; the stream will reopen from the checkpoint', { error: describeError(e) });
      recordFailure(this.flow.id, e instanceof DuctError ? e.message : describeError(e), e instanceof DuctError ? (e.hint ?? '') : '');
      await this.close();
      throw e;
    }
  }

  /** Starts the delivery loop on the open stream (at most one runs). */
  private startLoop(): void {
    const token = { halted: false };
    this.loop.token = token;
    this.loop.running = true;
    this.loop.done = this.runLoop(token, this.reader!);
  }

  /**
   * Reads and writes batches while a step is attached, and while running ahead between steps;
   * ends the attached step at its bounds (see {@link deliver}). Ends when run-ahead may not go on,
   * or when halted (the stream closing: a batch read then is dropped, the stream reopens at the checkpoint).
   */
  private async runLoop(token: { halted: boolean }, reader: BatchReader): Promise<void> {
    try {
      for (;;) {
        if (token.halted) return;
        const step = this.loop.attached;
        if (step) {
          if (this.stepEnds(step)) {
            if ((await this.waitsIdle(step)) || (await this.endStep(step))) continue;
            return;
          }
        } else if (!this.mayRunAhead()) return;
        const read = await reader.next();
        if (token.halted) return;
        if (!read) throw new DuctError('source_failed', 'the replication stream ended unexpectedly', { retry: 'transient' });
        await this.deliverOne(read);
      }
    } catch (e) {
      if (token.halted) return;
      const step = this.loop.attached;
      this.loop.attached = undefined;
      if (step) step.settle({ error: asError(e) });
      else this.loop.failure = asError(e);
    } finally {
      // Synchronously with the decision to end: a step attaching after this starts a new loop.
      if (this.loop.token === token) this.loop.running = false;
    }
  }

  private stepEnds(step: AttachedStep): boolean {
    const t = this.tally;
    const r = this.deps.env.runner;
    const bound = step.idle ? r.stepIdleMaxMs : r.stepMaxMs;
    return t.end !== undefined || step.hooks.shouldStop() || t.rows >= r.stepMaxRows || Date.now() - step.started >= bound;
  }

  /** After the attached step's read came back empty: whether it keeps waiting for its first change. */
  private async waitsIdle(step: AttachedStep): Promise<boolean> {
    const t = this.tally;
    const allowed = idleWaitAllowed({
      step,
      tally: t,
      now: Date.now(),
      idleMaxMs: this.deps.env.runner.stepIdleMaxMs,
      commitEveryMs: this.sourceConfig.statusIntervalMs,
      holding: this.frozenAt !== null || (this.ddl?.holdsTables() ?? false),
    });
    if (!allowed || !(await step.hooks.idleWait!().catch(() => false))) return false;
    t.end = undefined;
    t.empty = false;
    step.idle = true;
    this.updateProgress();
    return true;
  }

  /** Whether the loop may go on between steps: within one step's rows and time since the last step ended. */
  private mayRunAhead(): boolean {
    const r = this.deps.env.runner;
    return (
      this.loop.runAhead &&
      this.tally.end === undefined &&
      this.frozenAt === null &&
      !this.loop.shouldStop() &&
      this.tally.rows < r.stepMaxRows &&
      Date.now() - this.loop.detachedAt < Math.max(r.stepMaxMs, MIN_RUN_AHEAD_MS)
    );
  }

  /** Ends the attached step with what was delivered; returns whether the loop goes on (run-ahead). */
  private async endStep(step: AttachedStep): Promise<boolean> {
    const t = this.tally;
    this.updateProgress();
    let runAhead: boolean;
    try {
      runAhead = await step.hooks.endOfStep(t.empty);
    } catch (e) {
      this.loop.attached = undefined;
      step.settle({ error: asError(e) });
      return false;
    }
    if (this.frozenAt !== null) this.position = this.frozenAt;
    const bound = this.ddl?.checkpointBound();
    const upTo = this.frozenAt ?? t.checkpoint;
    this.returned = bound !== undefined && bound < upTo ? bound : upTo;
    const result: DeliverResult = { rows: t.rows, batches: t.batches, checkpointLsn: formatLsn(this.returned), empty: t.empty, ddlEvents: t.ddlEvents };
    const held = t.end === 'held';
    this.tally = { ...emptyTally(t.checkpoint), ...(held ? { end: 'held' as const } : {}) };
    this.loop.attached = undefined;
    this.loop.detachedAt = Date.now();
    this.loop.runAhead = runAhead && !held;
    step.settle({ result });
    return this.loop.runAhead;
  }

  /** Delivers one batch read from the stream and counts it in the tally. */
  private async deliverOne(read: Batch): Promise<void> {
    const t = this.tally;
    // A step that waited idle ends at its usual bounds once something arrives (at once when it waited longer).
    if (this.loop.attached && (read.changes.length > 0 || read.ddl)) this.loop.attached.idle = false;
    // Looked up per batch (cached ~1 s): a backfill starting mid-step holds its tables from the next batch on.
    const hold = await this.currentHold();
    if (!hold && this.frozenAt !== null) {
      // The hold ended: this batch is dropped unwritten; the next step re-reads from the held checkpoint.
      t.end = 'held';
      return;
    }
    let batch = hold ? this.withoutHeld(read, hold, t.checkpoint) : read;
    const before = t.checkpoint;
    if (batch.checkpointLsn > t.checkpoint) t.checkpoint = batch.checkpointLsn;
    if (this.ddl && (batch.changes.length > 0 || batch.ddl)) {
      const staged = await this.ddl.process(batch, before, this.destinations);
      t.ddlEvents.push(...staged.waiting);
      if (staged.batch.changes.length === 0) {
        this.position = t.checkpoint;
        return;
      }
      batch = staged.batch;
    }
    if (batch.changes.length === 0) {
      if (this.sourceConfig.emitEmpty) await writeToAll(this.destinations, toEncodedBatch(batch, this.deps.codecFor), this.flow.parallelism);
      this.position = t.checkpoint;
      t.empty = t.rows === 0 && this.catchUp.at(t.checkpoint);
      if (t.empty) recordCaughtUp(this.flow.id, this.source!.stats().receivedLsn);
      t.end = 'empty';
      return;
    }
    const writeStart = performance.now();
    await writeToAll(this.destinations, toEncodedBatch(batch, this.deps.codecFor), this.flow.parallelism);
    observeBatchDuration(this.flow.id, (performance.now() - writeStart) / 1000);
    this.position = t.checkpoint;
    recordDelivered(this.flow.id, batch.changes, this.source!.stats().receivedLsn);
    t.rows += batch.changes.length;
    t.batches++;
    this.progress.rows += batch.changes.length;
    this.progress.batches++;
  }

  /** Makes `lsn` the durable checkpoint (monotone) and acknowledges it to the server. */
  async commit(lsn: Lsn): Promise<Lsn> {
    const stored = await this.deps.checkpoints.commit(this.flow.id, this.slot, lsn);
    if (this.source) await this.source.ack(stored);
    this.progress.checkpointLsn = stored;
    return stored;
  }

  /**
   * Applies a schema change to this flow's open destinations (an approval workflow's apply step
   * running in the process that streams the flow: one DuckDB file has one writer).
   */
  async applySchemaChange(change: SchemaChange): Promise<void> {
    await this.openDestinations();
    await applyToDestinations(change, this.destinations);
  }

  /** Closes the replication stream only (the next step reopens it at its checkpoint). */
  private async closeStream(): Promise<void> {
    const source = this.source;
    this.source = undefined;
    this.reader = undefined;
    this.position = -1n;
    this.returned = -1n;
    await this.haltLoop(source);
  }

  async close(): Promise<void> {
    await this.closeStream();
    const dests = this.destinations;
    this.destinations = [];
    await Promise.allSettled(dests.map((d) => d.close()));
  }

  /**
   * Stops the delivery loop and closes `source` under it (which ends a read the loop waits on),
   * then waits for the loop's write in flight, if any: nothing writes once this resolves. A step
   * attached to the loop fails (it was closed under it); what the loop had counted is dropped.
   */
  private async haltLoop(source: Source | undefined): Promise<void> {
    const loop = this.loop;
    loop.token.halted = true;
    this.loop = idleLoop();
    this.tally = emptyTally(-1n);
    await Promise.allSettled([source?.close(), loop.done]);
    loop.attached?.settle({ error: new DuctError('unavailable', 'the stream was closed during the step', { retry: 'transient' }) });
  }

  private async currentHold(): Promise<BackfillHold | null> {
    const hold = (await this.deps.backfillHold?.(this.flow.id)) ?? null;
    return hold && hold.tables.size > 0 ? hold : null;
  }

  /** The batch without the held tables' changes at or after the hold LSN; freezes the checkpoint before the first one left out. */
  private withoutHeld(batch: Batch, hold: BackfillHold, checkpointBefore: Lsn): Batch {
    const kept = batch.changes.filter((c) => c.commitLsn < hold.lsn || !hold.tables.has(tableKey(c.table)));
    if (kept.length === batch.changes.length) return batch;
    if (this.frozenAt === null) {
      this.frozenAt = checkpointBefore;
      this.log.info('backfill running: holding its tables and the checkpoint', { hold_lsn: formatLsn(hold.lsn), checkpoint: formatLsn(checkpointBefore) });
    }
    return { ...batch, changes: kept };
  }

  private updateProgress(): void {
    if (!this.source) return;
    const p = this.progress;
    const s = this.source.stats();
    p.receivedLsn = s.receivedLsn;
    p.serverWalEnd = s.serverWalEnd;
  }

  private async ensureOpen(from: Lsn): Promise<void> {
    if (this.source && (this.position === from || this.returned === from) && this.destinations.length > 0) return;
    if (this.source) {
      this.log.info('reopening the stream at the checkpoint', { from: formatLsn(from), was: formatLsn(this.position) });
      await this.closeStream();
    }
    await this.openDestinations();
    await this.catchUp.open(this.sourceConfig.dsn, from);
    // The source decodes up to one merged write ahead, so small batches can fill the next write.
    const openSource = this.deps.openSource ?? ((config, deps) => new PostgresSource(config, deps));
    const source = openSource(this.sourceConfig, {
      flowId: this.flow.id,
      log: this.log,
      readAheadRows: this.deps.env.runner.maxWriteRows,
      onHeartbeat: (lsn) => recordHeartbeat(this.flow.id, lsn),
    });
    this.reader = new BatchReader(source.open(from)[Symbol.asyncIterator](), Math.max(this.sourceConfig.batchSize, this.deps.env.runner.maxWriteRows));
    this.source = source;
    this.position = from;
    this.returned = from;
    this.tally = emptyTally(from);
    await this.ddl?.open(from);
    await this.ddl?.applyApproved(this.destinations, from);
    // Re-acknowledge the durable checkpoint so the new connection's status updates start from it.
    const durable = await this.deps.checkpoints.get(this.flow.id, this.slot);
    if (durable !== null) await source.ack(durable);
  }

  private async openDestinations(): Promise<void> {
    if (this.destinations.length > 0) return;
    this.destinations = await openFlowDestinations(this.flow, this.deps.env.wireFormat, this.log);
  }
}
