/**
 * Snapshot rows (backfill, `op: 'read'`, negative seqs at the snapshot's position) in destinations
 * that encode positions themselves: ClickHouse versions order them below every streamed change of
 * a later position, Snowpipe files keep them (with or without metadata) under plain, unique names.
 */
import '../../src/destinations';
import type { Change } from '../../src/core/change';
import { versionOf } from '../../src/destinations/clickhouse/rows';
import { getDestinationKind } from '../../src/destinations/registry';
import { tableLayout, targetName } from '../../src/destinations/sql/layout';
import { snowflakeTypes } from '../../src/destinations/snowflake/dialect';
import type { SnowpipeConfig } from '../../src/destinations/snowpipe/config';
import { fileName, fileRecords } from '../../src/destinations/snowpipe/files';
import { table } from '../support/changes';

const items = table('public.items', { id: 'int8', name: 'text' }, { primaryKey: ['id'] });

function change(op: Change['op'], commitLsn: bigint, seq: number, id: bigint, name: string): Change {
  const row = { id, name };
  return {
    op,
    table: { schema: 'public', name: 'items' },
    lsn: commitLsn,
    commitLsn,
    commitEndLsn: commitLsn,
    commitTimeMicros: 1_704_067_200_000_000n,
    xid: 0,
    seq,
    key: { id },
    before: null,
    after: op === 'delete' ? null : row,
    unchangedToast: [],
  };
}

test('ClickHouse versions: a snapshot row sorts below streamed changes of its LSN and later ones, above earlier ones, and is a valid UInt128', () => {
  const snap = 0x1_0000_0000n;
  const read = versionOf({ commitLsn: snap, seq: -7 });
  expect(read > 0n).toBe(true);
  expect(read < 2n ** 128n).toBe(true);
  expect(read < versionOf({ commitLsn: snap, seq: 0 })).toBe(true);
  expect(read < versionOf({ commitLsn: snap + 0x40n, seq: 0 })).toBe(true);
  expect(read > versionOf({ commitLsn: snap - 1n, seq: 5 })).toBe(true);
  expect(versionOf({ commitLsn: snap, seq: -8 }) < read).toBe(true);
  // Streamed positions keep the encoding they always had.
  expect(versionOf({ commitLsn: snap, seq: 3 })).toBe((snap << 64n) | 3n);
});

function snowpipeConfig(options: Record<string, string>): SnowpipeConfig {
  const kind = getDestinationKind('snowpipe', 'destinations[0].type');
  return kind.parseConfig({ dsn: 'snowflake://u:p@acct/DB/PUBLIC', schema: 'pq', table: 'items', ...options }, 'destinations[0].options') as SnowpipeConfig;
}

test('Snowpipe files keep snapshot rows without metadata and with it, under names that stay unique per chunk', () => {
  const reads = [change('read', 0x2_0000_0000n, -1, 1n, 'a'), change('read', 0x2_0000_0000n, -4, 2n, 'b')];
  for (const [options, withMetadata] of [
    [{}, false],
    [{ append_mode: 'true' }, true],
  ] as const) {
    const c = snowpipeConfig(options);
    const layout = tableLayout(items, targetName(items, c.tableOptions), c.tableOptions, snowflakeTypes);
    const records = fileRecords(layout, reads, withMetadata, 0n);
    expect(records.map((r) => [r.id, r.name])).toEqual([
      ['1', 'a'],
      ['2', 'b'],
    ]);
    if (withMetadata) expect(records.map((r) => r.__ds_op)).toEqual(['read', 'read']);
  }
  expect(fileName(reads, 'parquet')).toBe('0000000200000000_r0000000000000000001_0000000200000000_r0000000000000000004.parquet');
  expect(fileName([change('insert', 0x10n, 3, 1n, 'a')], 'json')).toBe('0000000000000010_0000000003_0000000000000010_0000000003.json');
});
