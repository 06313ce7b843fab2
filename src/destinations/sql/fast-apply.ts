import type { SqlDialect } from './dialect';
import type { TableLayout } from './layout';
import type { TablePlan } from './plan';
import type { SqlSession } from './session';
import { updatable, type WriteRows } from './statements';

/**
 * How the fast apply script writes a plan's upserted rows: plain INSERT for a plan of inserts where
 * the dialect enforces keys (a key the destination already holds, say rows written before the
 * flow, makes it fail), plain UPDATE for a plan of updates when the session counts changed rows (a
 * row the destination lacks shows in the count), else upsert. Measured on DuckDB at 1M rows, a
 * plain INSERT costs ~1/3 and an UPDATE ~2/3 of an upsert.
 */
export function fastRows(d: SqlDialect, session: SqlSession, layout: TableLayout, plan: TablePlan): WriteRows {
  if (plan.onlyInserts && d.insertFailsOnDuplicateKey === true) return 'insert';
  if (plan.onlyUpdates && session.executeCounting !== undefined && updatable(layout) && plan.rows.length > 0) return 'update';
  return 'upsert';
}

/**
 * A batch's apply script with plain INSERTs and UPDATEs where {@link fastRows} allows: runs of
 * statements sent in one round trip, and counted statements sent alone, whose changed-row count
 * must be `expect`.
 */
export class FastScript {
  readonly steps: { statements: string[]; expect?: number }[];
  /** False while every statement added is also in the upsert-only script. */
  differs = false;

  constructor(first: string) {
    this.steps = [{ statements: [first] }];
  }

  /** Adds statements; `differs` when they are not the upsert-only script's. */
  add(statements: string[], differs = false): void {
    this.differs ||= differs;
    const last = this.steps[this.steps.length - 1]!;
    if (last.expect === undefined) last.statements.push(...statements);
    else this.steps.push({ statements: [...statements] });
  }

  count(statement: string, expect: number): void {
    this.steps.push({ statements: [statement], expect });
    this.differs = true;
  }
}

/**
 * Applies a batch: the fast script when it differs from `script` (in steps, to check the counts of
 * its UPDATEs), else `script` (upserts only) in one round trip. When the fast script fails or an
 * UPDATE misses a row, it is rolled back as a whole, `onFallback` hears why, and `script` runs.
 * Both run between BEGIN and COMMIT from load tables filled beforehand, outside the transaction,
 * so after a rollback the load tables still hold the rows. Errors of `script` are thrown.
 */
export async function runApply(session: SqlSession, d: SqlDialect, fast: FastScript, script: string[], onFallback: (e: unknown) => void): Promise<void> {
  if (!fast.differs) return session.executeScript(script);
  try {
    for (const step of fast.steps) {
      if (step.expect === undefined) {
        await session.executeScript(step.statements);
        continue;
      }
      const changed = await session.executeCounting!(step.statements[0]!);
      if (changed !== step.expect) throw new Error(`an UPDATE changed ${changed} rows instead of ${step.expect}: the destination lacks some`);
    }
  } catch (e) {
    await session.execute(d.rollback).catch(() => undefined);
    onFallback(e);
    await session.executeScript(script);
  }
}
