import type { Lsn } from '../core/lsn';
import type { DeliverResult } from './flowRuntime';

/**
 * The state shared by a flow's delivery loop and the DBOS steps that attach to it (see
 * FlowRuntime.deliver): what was delivered since the last step ended, the attached step, and
 * whether the loop may run ahead between steps.
 */

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
}

export type StepOutcome = { result: DeliverResult } | { error: Error };

export interface AttachedStep {
  /** When the step attached (its time bound counts from here). */
  started: number;
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
