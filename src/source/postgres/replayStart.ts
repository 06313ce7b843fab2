import { invalidArgument } from '../../core/errors';
import { formatLsn, type Lsn } from '../../core/lsn';
import { catalogQueryOf } from './catalogQuery';
import type { PostgresSourceConfig } from './config';
import { connectClient, endQuietly } from './connect';
import { lookupSlot } from './stream/slotInfo';

/**
 * Refuses a replay start (`field`, e.g. `flag -start-lsn`) that PostgreSQL would silently move: a
 * logical slot never re-sends what it has confirmed, so streaming from before its
 * `confirmed_flush_lsn` starts at that position instead. The error names the slot's confirmed and
 * restart LSNs and the range that can be replayed. A missing slot is refused too (it will be
 * created at the current WAL end, after any LSN one could name now).
 */
export async function checkReplayStart(config: PostgresSourceConfig, start: Lsn, field: string): Promise<void> {
  const client = await connectClient(config.dsn, 'source.options.dsn', { connectTimeoutMs: 5000 });
  try {
    const query = catalogQueryOf(client);
    const slot = await lookupSlot(query, config.slot);
    const [wal] = await query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn');
    const end = wal?.lsn ?? 'the current WAL end';
    if (!slot.exists) {
      throw invalidArgument(
        field,
        `replication slot ${config.slot} does not exist yet, so there is nothing to replay from ${formatLsn(start)}`,
        'run the flow once without -start-lsn (it creates the slot at the current WAL end); a replay can then start at or after that position',
      );
    }
    const confirmed = slot.confirmedFlushLsn;
    if (confirmed !== null && start < confirmed) {
      const restart = slot.restartLsn === null ? 'none' : formatLsn(slot.restartLsn);
      throw invalidArgument(
        field,
        `${formatLsn(start)} is before replication slot ${config.slot}'s confirmed position ${formatLsn(confirmed)} (restart_lsn ${restart}); ` +
          `PostgreSQL never re-sends changes a slot has confirmed and would silently start at ${formatLsn(confirmed)}, so nothing before it can be replayed`,
        `pass a -start-lsn from ${formatLsn(confirmed)} up to ${end} (what the slot can replay), or recreate the slot and copy the tables again for older changes`,
      );
    }
  } finally {
    await endQuietly(client);
  }
}
