import type { Client } from 'pg';
import { DuctError, describeError } from '../../../core/errors';
import type { Logger } from '../../../core/log';
import { parseLsn, type Lsn } from '../../../core/lsn';
import { connectClient, endQuietly } from '../connect';

/** A snapshot every reader can import, and the LSN that splits the data between it and the stream. */
export interface SnapshotPoint {
  /** Exported snapshot name (`SET TRANSACTION SNAPSHOT`); null without snapshot_consistent. */
  name: string | null;
  /** Every transaction committed before this LSN is in the snapshot, none at or after it. */
  lsn: Lsn;
  timeMicros: bigint;
}

/** Exporting sessions held by this process, by backfill id: an exported snapshot lives as long as its session. */
const holders = new Map<string, Client>();

/**
 * Takes the backfill's snapshot point. Consistent (`snapshot_consistent=true`): a walsender session
 * creates a TEMPORARY logical slot with EXPORT_SNAPSHOT, whose consistent point is exactly the LSN
 * that splits committed transactions between the snapshot and the stream; the session is kept open
 * (in this process) until {@link releaseSnapshot}, and the temporary slot dies with it. Otherwise
 * (or as the LSN only): `pg_current_wal_insert_lsn()` before any read, a lower bound, which is safe
 * because streamed changes at or after it are re-applied over the snapshot rows.
 */
export async function takeSnapshot(dsn: string, backfillId: string, consistent: boolean, log: Logger): Promise<SnapshotPoint> {
  const timeMicros = BigInt(Date.now()) * 1000n;
  if (!consistent) {
    const client = await connectClient(dsn, 'source.options.dsn', { applicationName: 'ductstream-backfill' });
    try {
      const r = await client.query<{ lsn: string }>('SELECT pg_current_wal_insert_lsn()::text AS lsn');
      return { name: null, lsn: parseLsn(r.rows[0]!.lsn), timeMicros };
    } finally {
      await endQuietly(client);
    }
  }
  await releaseSnapshot(backfillId);
  const client = await connectClient(dsn, 'source.options.dsn', {
    replication: 'database',
    applicationName: 'ductstream-backfill-snapshot',
    onError: (e) => log.warn('the exported snapshot session failed; readers continue without it', { error: describeError(e) }),
  });
  try {
    const slot = `ductstream_bf_${process.pid}_${Date.now().toString(36)}`;
    const r = await client.query<{ consistent_point: string; snapshot_name: string }>(
      `CREATE_REPLICATION_SLOT ${slot} TEMPORARY LOGICAL pgoutput EXPORT_SNAPSHOT`,
    );
    const row = r.rows[0];
    if (!row) throw new DuctError('source_failed', 'CREATE_REPLICATION_SLOT returned no row', { retry: 'transient' });
    holders.set(backfillId, client);
    log.info('snapshot exported', { snapshot: row.snapshot_name, lsn: row.consistent_point });
    return { name: row.snapshot_name, lsn: parseLsn(row.consistent_point), timeMicros };
  } catch (e) {
    await endQuietly(client);
    if (e instanceof DuctError) throw e;
    throw new DuctError('source_failed', `exporting a snapshot failed: ${describeError(e)}`, {
      retry: 'transient',
      hint: 'the backfill needs a free replication slot and WAL sender while it runs (max_replication_slots, max_wal_senders), or snapshot_consistent=false',
      cause: e,
    });
  }
}

/** Ends the exporting session of a backfill (the snapshot and its temporary slot go with it). */
export async function releaseSnapshot(backfillId: string): Promise<void> {
  const client = holders.get(backfillId);
  holders.delete(backfillId);
  await endQuietly(client);
}

/** True when `e` says the exported snapshot is gone (its session ended: a crash, a restart). */
export function isSnapshotGone(e: unknown): boolean {
  const err = e as { code?: string; message?: string } | null;
  return err?.code === '22023' || /invalid snapshot identifier/i.test(err?.message ?? '');
}
