/**
 * The DuckDB bulk path for backfilled rows (`direct-append.ts`): a batch of `read` changes into a
 * table that holds none of their keys is appended to the target in the batch's transaction, without
 * a load table; its metadata columns get what the upsert would give; a chunk written again (a
 * replayed step), or one with a key the table holds, falls back to the upsert and changes nothing
 * it should not. Real DuckDB (a file), the real writer and session.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Batch, Change, TableRef } from '../../src/core/change';
import { silentLogger } from '../../src/core/log';
import { openDuckdb, type DuckdbHandle } from '../../src/destinations/duckdb/client';
import { parseDuckdbConfig } from '../../src/destinations/duckdb/config';
import { duckdbDialect } from '../../src/destinations/duckdb/dialect';
import { WarehouseWriter } from '../../src/destinations/sql/writer';
import { encodedBatch, table } from '../support/changes';

const items = table('public.items', { id: 'int8', name: 'text', price: 'numeric(12,2)' }, { primaryKey: ['id'] });
const ref: TableRef = { schema: 'public', name: 'items' };
const SNAPSHOT = 0x5_0000_0000n;

let dir: string;
let handle: DuckdbHandle;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ductstream-snapappend-'));
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

function read(id: number, name: string): Change {
  const key = { id: BigInt(id) };
  return {
    op: 'read',
    table: ref,
    lsn: SNAPSHOT,
    commitLsn: SNAPSHOT,
    commitEndLsn: SNAPSHOT,
    commitTimeMicros: 1_704_067_200_000_000n,
    xid: 0,
    seq: -1_000_000 + id,
    key,
    before: null,
    after: { ...key, name, price: `${id}.50` },
    unchangedToast: [],
  };
}

const batch = (changes: Change[]): Batch => ({
  flowId: 'snap',
  changes,
  schemas: new Map([['public.items', items]]),
  firstLsn: SNAPSHOT,
  checkpointLsn: SNAPSHOT,
});

async function rows(): Promise<unknown[]> {
  return handle.session.query(`SELECT id::VARCHAR AS id, name, price::VARCHAR AS price FROM public.items ORDER BY id`);
}

async function loadTables(): Promise<number> {
  const r = await handle.session.query(`SELECT count(*)::INT AS n FROM duckdb_tables() WHERE table_name LIKE '__ds_load_%'`);
  return Number(r[0]!.n);
}

test('snapshot rows go straight into the target (no load table), with the metadata the upsert gives', async () => {
  const w = writer({ meta_enabled: 'true' });
  await w.write(encodedBatch(batch([1, 2, 3].map((i) => read(i, `n${i}`)))));
  expect(await rows()).toEqual([1, 2, 3].map((i) => ({ id: String(i), name: `n${i}`, price: `${i}.50` })));
  expect(await loadTables()).toBe(0);
  const meta = await handle.session.query(
    `SELECT DISTINCT __ds_op AS op, __ds_is_deleted AS deleted, __ds_watermark::VARCHAR AS wm, __ds_synced_at IS NOT NULL AS synced FROM public.items`,
  );
  // meta_watermark defaults to the commit time (the snapshot's).
  expect(meta).toEqual([{ op: 'read', deleted: false, wm: '2024-01-01 00:00:00+00', synced: true }]);
});

test('a chunk written again, and one with a key the table holds, fall back to the upsert: no duplicates, rows as read', async () => {
  const w = writer();
  const first = [1, 2, 3].map((i) => read(i, `n${i}`));
  await w.write(encodedBatch(batch(first)));
  await w.write(encodedBatch(batch(first)));
  await w.write(encodedBatch(batch([read(3, 'again'), read(4, 'n4')])));
  expect(await rows()).toEqual([
    { id: '1', name: 'n1', price: '1.50' },
    { id: '2', name: 'n2', price: '2.50' },
    { id: '3', name: 'again', price: '3.50' },
    { id: '4', name: 'n4', price: '4.50' },
  ]);
  const wm = await handle.session.query(`SELECT count(*)::INT AS n FROM ductstream_meta.__metadata`);
  expect(Number(wm[0]!.n)).toBe(1);
});

test('a type mapping that needs a cast keeps the usual path', async () => {
  const w = writer({ type_mappings: '{"numeric": "VARCHAR"}' });
  await w.write(encodedBatch(batch([read(7, 'seven')])));
  expect(await rows()).toEqual([{ id: '7', name: 'seven', price: '7.50' }]);
  expect(await loadTables()).toBe(1);
});
