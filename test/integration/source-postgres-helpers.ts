import { randomBytes } from 'node:crypto';
import type { Batch, Change } from '../../src/core/change';
import { silentLogger } from '../../src/core/log';
import { parseLsn, type Lsn } from '../../src/core/lsn';
import { parsePostgresSourceConfig, type PostgresSourceConfig } from '../../src/source/postgres/config';
import { preparePostgresSource, type PrepareResult } from '../../src/source/postgres/prepare';
import { PostgresSource } from '../../src/source/postgres/source';
import type { TestDatabase } from '../support/pg';

/** Shared helpers of the PostgreSQL source integration tests. */

/** A slot/publication/table name unique across the whole cluster (slots are cluster-wide). */
export function uniqueName(prefix: string): string {
  return `${prefix}_${randomBytes(5).toString('hex')}`;
}

export function sourceConfig(db: TestDatabase, options: Record<string, string>): PostgresSourceConfig {
  return parsePostgresSourceConfig({ dsn: db.dsn, ...options }, 'source.options');
}

export async function prepared(db: TestDatabase, options: Record<string, string>): Promise<{ config: PostgresSourceConfig; result: PrepareResult }> {
  const config = sourceConfig(db, options);
  const result = await preparePostgresSource(config, { flowId: 'test-flow', log: silentLogger });
  return { config, result };
}

export function openSource(config: PostgresSourceConfig, from: Lsn = 0n): { source: PostgresSource; it: AsyncIterator<Batch> } {
  const source = new PostgresSource(config, { flowId: 'test-flow', log: silentLogger });
  return { source, it: source.open(from)[Symbol.asyncIterator]() };
}

export async function nextBatch(it: AsyncIterator<Batch>): Promise<Batch> {
  const r = await it.next();
  if (r.done) throw new Error('the source ended');
  return r.value;
}

/** The next batch that holds changes (empty batches come after each `batch_timeout` of silence). */
export async function nextNonEmpty(it: AsyncIterator<Batch>, timeoutMs = 20_000): Promise<Batch> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const b = await nextBatch(it);
    if (b.changes.length > 0) return b;
    if (Date.now() > deadline) throw new Error('timed out waiting for a batch with changes');
  }
}

/** Pulls batches until `count` changes arrived (or `timeoutMs`); returns the batches. */
export async function pullChanges(it: AsyncIterator<Batch>, count: number, timeoutMs = 20_000): Promise<{ batches: Batch[]; changes: Change[] }> {
  const batches: Batch[] = [];
  const changes: Change[] = [];
  const deadline = Date.now() + timeoutMs;
  while (changes.length < count) {
    if (Date.now() > deadline) throw new Error(`timed out with ${changes.length}/${count} changes`);
    const b = await nextBatch(it);
    batches.push(b);
    changes.push(...b.changes);
  }
  return { batches, changes };
}

export async function waitFor<T>(fn: () => Promise<T | undefined>, timeoutMs = 10_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function confirmedFlush(db: TestDatabase, slot: string): Promise<Lsn | null> {
  const rows = await db.query<{ lsn: string | null }>(`SELECT confirmed_flush_lsn::text AS lsn FROM pg_replication_slots WHERE slot_name = $1`, [slot]);
  const v = rows[0]?.lsn;
  return v ? parseLsn(v) : null;
}

export async function currentWalLsn(db: TestDatabase): Promise<Lsn> {
  const rows = await db.query<{ lsn: string }>(`SELECT pg_current_wal_lsn()::text AS lsn`);
  return parseLsn(rows[0]!.lsn);
}
