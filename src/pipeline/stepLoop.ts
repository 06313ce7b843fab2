import type { Lsn } from '../core/lsn';

/**
 * The state shared by a flow's delivery loop and the DBOS steps that attach to it (see
 * FlowRuntime.deliver): what was delivered since the last step ended, the attached step, and
 * whether the loop may run ahead between steps.
 */

/** What one deliverBatch step returns (see FlowRuntime.deliver). */
export interface DeliverResult {
  rows: number;
  batches: number;
  /** Where the checkpoint may move now (X/Y); equal to the input when nothing completed. */
  checkpointLsn: string;
  /** True when the step waited `batch_timeout` and received no change. */
  empty: boolean;
  /** DDL events announced by this step that wait for approval or apply (each gets an approval workflow). */
  ddlEvents: number[];
}

/**
 * Why a run ends before its bound: a signal (Ctrl-C, SIGTERM), the flow paused, stopped or deleted,
 * or its definition `updated` (the run hands over to a successor that runs the new definition).
 */
export type StopReason = 'signal' | 'paused' | 'stopped' | 'deleted' | 'updated';

/** What a step supplies to the delivery loop. */
export interface StepHooks {
  /** True when the run must end after the current batch (checked before every read). */
  shouldStop: () => boolean;
  /**
   * Called once when the step's bounds are reached, before its result is taken, while the loop
   * waits: `empty` is the result's `empty`. Resolves whether delivery may run ahead until the next
   * step (false when the run ends after this step).
   */
  endOfStep: (empty: boolean) => Promise<boolean>;
  /**
   * Called when a read comes back empty before the step delivered anything (the stream has caught
   * up and is idle), at most once per `batch_timeout`: resolves whether the step may keep waiting on
   * the open stream for the first change instead of ending (see {@link idleWaitAllowed}). Absent, or
   * false: the step ends on the empty read, as a run that counts empty reads needs.
   */
  idleWait?: () => Promise<boolean>;
}

export type StepOutcome = { result: DeliverResult } | { error: Error };

export interface AttachedStep {
  /** When the step attached (its time bound counts from here). */
  started: number;
  /** The checkpoint the step started from. */
  from: Lsn;
  /** True while the step waits idle for its first change (its time bound is then the idle one). */
  idle: boolean;
  hooks: StepHooks;
  settle: (outcome: StepOutcome) => void;
}

/** What the loop delivered since the last step ended. */
export interface Tally {
  rows: number;
  batches: number;
  /** Delivered (acknowledged by every destination) up to here. */
  checkpoint: Lsn;
  /** DDL events announced since, for approval workflows. */
  ddlEvents: number[];
  /** An empty batch ended the step and it had no rows before it, after the stream caught up. */
  empty: boolean;
  /** Why the step ends before its bounds: an empty batch, or the end of a backfill hold (the loop stops then). */
  end?: 'empty' | 'held';
}

export function emptyTally(checkpoint: Lsn): Tally {
  return { rows: 0, batches: 0, checkpoint, ddlEvents: [], empty: false };
}

export interface LoopState {
  /** True from the loop's start until it decides to end (synchronously, so a step never waits on a loop that ended). */
  running: boolean;
  /** The running loop's halt flag: set before the stream closes under it. */
  token: { halted: boolean };
  /** Settles when the current (or last) loop has ended. */
  done: Promise<void>;
  attached?: AttachedStep;
  /** Whether the last step allowed running ahead, and when it ended. */
  runAhead: boolean;
  detachedAt: number;
  /** The last attached step's stop check, kept while running ahead. */
  shouldStop: () => boolean;
  /** A failure while running ahead, thrown by the next step. */
  failure?: Error;
}

/** `e` as an Error (what a step throws). */
export function asError(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}

export function idleLoop(): LoopState {
  return { running: false, token: { halted: true }, done: Promise.resolve(), runAhead: false, detachedAt: 0, shouldStop: () => true };
}

/**
 * Run-ahead between steps lasts at most one step's time (DUCTSTREAM_STEP_MAX_MS), but at least this:
 * a step boundary (recording the step, committing the checkpoint) can take that long under load.
 */
export const MIN_RUN_AHEAD_MS = 1000;

/** What decides whether an idle step may go on waiting after an empty read (see {@link idleWaitAllowed}). */
export interface IdleWaitInput {
  step: AttachedStep;
  tally: Tally;
  now: number;
  /** The idle step's time bound (DUCTSTREAM_STEP_IDLE_MAX_MS). */
  idleMaxMs: number;
  /** How often an idle step that moved the checkpoint ends so that it is committed (the source's `status_interval`). */
  commitEveryMs: number;
  /** True while a backfill or a schema change holds tables: those steps end on an empty read, as before. */
  holding: boolean;
}

/**
 * Whether a step whose read came back empty may keep waiting for the first change (before asking
 * `hooks.idleWait`): only when it ended on that empty read with nothing delivered, nothing announced
 * and the stream caught up; no stop is requested and no hold is active; within the idle time bound;
 * and, when keepalives or heartbeats moved the checkpoint, not past `commitEveryMs` (the moved
 * checkpoint is committed and acknowledged then, so an idle slot keeps advancing). A change that
 * arrives during the wait is delivered at once, and the step then ends at its usual bounds.
 */
export function idleWaitAllowed(i: IdleWaitInput): boolean {
  const { step, tally: t } = i;
  if (t.end !== 'empty' || !t.empty || t.rows > 0 || t.batches > 0 || t.ddlEvents.length > 0) return false;
  if (i.holding || step.hooks.idleWait === undefined || step.hooks.shouldStop()) return false;
  const waited = i.now - step.started;
  if (waited >= i.idleMaxMs) return false;
  return !(t.checkpoint > step.from && waited >= i.commitEveryMs);
}
