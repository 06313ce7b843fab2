/**
 * A backfill chunk's CSV file loaded by the DuckDB writer (`WarehouseWriter.writeSnapshotFile`):
 * the watermark semantics of snapshot rows hold as for decoded `read` changes. A streamed change
 * after the snapshot is never overwritten by snapshot rows; a row streamed before the hold is
 * replaced by the snapshot's; a file loaded twice (a replayed step) leaves one row per key; the
 * metadata columns get what an upsert of the same rows gives. Real DuckDB (a file), real writer.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Change, TableRef } from '../../src/core/change';
import { silentLogger } from '../../src/core/log';
import { openDuckdb, type DuckdbHandle } from '../../src/destinations/duckdb/client';
import { parseDuckdbConfig } from '../../src/destinations/duckdb/config';
import { duckdbDialect } from '../../src/destinations/duckdb/dialect';
import type { SnapshotFile } from '../../src/destinations/sql/snapshot-file';
import { WarehouseWriter } from '../../src/destinations/sql/writer';
import { encodedBatch, table } from '../support/changes';

const items = table('public.items', { id: 'int8', name: 'text', price: 'numeric(12,2)' }, { primaryKey: ['id'] });
const ref: TableRef = { schema: 'public', name: 'items' };
/** The backfill's hold H (rows sit at H - 1) and its snapshot S. */
const HOLD = 0x5_0000_0000n;
const SNAPSHOT = 0x5_0000_1000n;
const TIME = 1_704_067_200_000_000n;

let dir: string;
let handle: DuckdbHandle;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ductstream-snapfile-'));
  handle = await openDuckdb(join(dir, 'w.duckdb'), 'dsn');
});

afterEach(() => {
  handle.close();
  rmSync(dir, { recursive: true, force: true });
});

function writer(options: Record<string, string> = {}): WarehouseWriter {
  return WarehouseWriter.transactional({
    session: handle.session,
    dialect: duckdbDialect,
    options: parseDuckdbConfig({ dsn: join(dir, 'w.duckdb'), ...options }, 'destinations[0].options'),
    flowId: 'snap',
    log: silentLogger,
  });
}

/** A CSV file as PostgreSQL's `COPY … (FORMAT csv, FORCE_QUOTE *)` writes it. */
function file(name: string, lines: string[], seq = -1): SnapshotFile {
  const path = join(dir, name);
  writeFileSync(path, lines.map((l) => l + '\n').join(''));
  return { path, table: items, rows: lines.length, position: { commitLsn: HOLD - 1n, commitEndLsn: SNAPSHOT, seq, commitTimeMicros: TIME } };
}

function streamed(id: number, name: string, lsn: bigint): Change {
  const key = { id: BigInt(id) };
  return {
    op: 'insert',
    table: ref,
    lsn,
    commitLsn: lsn,
    commitEndLsn: lsn + 8n,
    commitTimeMicros: TIME + 1n,
    xid: 7,
    seq: 0,
    key,
    before: null,
    after: { ...key, name, price: '9.99' },
    unchangedToast: [],
  };
}

const write = (w: WarehouseWriter, c: Change) =>
  w.write(encodedBatch({ flowId: 'snap', changes: [c], schemas: new Map([['public.items', items]]), firstLsn: c.lsn, checkpointLsn: c.commitLsn }));

async function rows(): Promise<unknown[]> {
  return handle.session.query(`SELECT id::VARCHAR AS id, name, price::VARCHAR AS price FROM public.items ORDER BY id`);
}

test('snapshot rows from a file land with the metadata of an upsert; a replayed file and a row streamed before the hold are replaced', async () => {
  const w = writer({ meta_enabled: 'true' });
  expect(w.csvLoadRefusal(items)).toBeUndefined();
  // Streamed before the hold: the snapshot's row is newer.
  await write(w, streamed(3, 'before the hold', HOLD - 100n));
  const chunk = file('c1.csv', ['"1","a ""quoted"", with comma","1.50"', '"2",,"2.50"', '"3","","3.50"']);
  expect(await w.writeSnapshotFile(chunk)).toEqual({ tables: 1, applied: 3, skipped: 0 });
  expect(await w.writeSnapshotFile(chunk)).toEqual({ tables: 1, applied: 3, skipped: 0 });
  expect(await rows()).toEqual([
    { id: '1', name: 'a "quoted", with comma', price: '1.50' },
    { id: '2', name: null, price: '2.50' },
    { id: '3', name: '', price: '3.50' },
  ]);
  const meta = await handle.session.query(
    `SELECT DISTINCT __ds_op AS op, __ds_is_deleted AS deleted, __ds_watermark::VARCHAR AS wm, __ds_synced_at IS NOT NULL AS synced FROM public.items`,
  );
  expect(meta).toEqual([{ op: 'read', deleted: false, wm: '2024-01-01 00:00:00+00', synced: true }]);
  const wm = await handle.session.query(`SELECT commit_lsn::VARCHAR AS lsn, seq::VARCHAR AS seq FROM ductstream_meta.__metadata`);
  expect(wm).toEqual([{ lsn: String(HOLD - 1n), seq: '-1' }]);
});

test('a streamed change after the snapshot is never overwritten by snapshot rows from a file', async () => {
  const w = writer();
  await w.writeSnapshotFile(file('c1.csv', ['"1","snapshot","1.00"']));
  await write(w, streamed(1, 'streamed after the snapshot', SNAPSHOT + 64n));
  const late = file('c2.csv', ['"1","stale snapshot","1.00"', '"2","stale too","2.00"'], -2);
  expect(await w.writeSnapshotFile(late)).toEqual({ tables: 0, applied: 0, skipped: 2 });
  expect(await rows()).toEqual([{ id: '1', name: 'streamed after the snapshot', price: '9.99' }]);
});

test('a table the CSV path cannot take is refused with the reason', () => {
  const withInterval = table('public.items', { id: 'int8', d: 'interval' }, { primaryKey: ['id'] });
  expect(writer().csvLoadRefusal(withInterval)).toMatch(/column d is of type interval/);
  expect(writer({ batch_mode: 'staging' }).csvLoadRefusal(items)).toBe('batch_mode is staging');
  expect(writer({ type_mappings: '{"numeric": "VARCHAR"}' }).csvLoadRefusal(items)).toMatch(/type_mappings/);
  expect(writer().csvLoadRefusal(table('public.k', { v: 'text' }))).toBe('the table has no primary key');
});
