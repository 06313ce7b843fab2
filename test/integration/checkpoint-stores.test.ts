import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'pg';
import { PostgresCheckpointStore } from '../../src/state/checkpoint/postgres';
import { SqliteCheckpointStore, sqlitePathFromDsn } from '../../src/state/checkpoint/sqlite';
import type { CheckpointStore } from '../../src/state/checkpoint/store';
import { parseLsn } from '../../src/core/lsn';
import { migrateStateDatabase } from '../../src/state/db';
import { createTestDatabase, type TestDatabase } from '../support/pg';

let db: TestDatabase;
let pool: Pool;
let dir: string;

beforeAll(async () => {
  db = await createTestDatabase('checkpoints');
  await migrateStateDatabase(db.dsn);
  await migrateStateDatabase(db.dsn); // idempotent
  pool = new Pool({ connectionString: db.dsn });
  dir = mkdtempSync(join(tmpdir(), 'ductstream-ckpt-'));
});

afterAll(async () => {
  await pool.end();
  await db.drop();
  rmSync(dir, { recursive: true, force: true });
});

const stores: Array<[string, () => CheckpointStore]> = [
  ['postgres', () => new PostgresCheckpointStore(pool)],
  ['sqlite', () => new SqliteCheckpointStore(join(dir, 'nested', 'checkpoints.db'))],
];

describe.each(stores)('%s checkpoint store', (_name, open) => {
  it('starts empty, then only moves forward (numeric LSN order)', async () => {
    const s = open();
    expect(await s.get('f1', 'slot_a')).toBeNull();
    expect(await s.commit('f1', 'slot_a', parseLsn('0/A'))).toBe(parseLsn('0/A'));
    expect(await s.commit('f1', 'slot_a', parseLsn('0/10'))).toBe(parseLsn('0/10'));
    // an older commit (replay) never moves it back
    expect(await s.commit('f1', 'slot_a', parseLsn('0/B'))).toBe(parseLsn('0/10'));
    expect(await s.get('f1', 'slot_a')).toBe(parseLsn('0/10'));
    expect(await s.commit('f1', 'slot_a', parseLsn('1/0'))).toBe(parseLsn('1/0'));
    await s.close();
  });

  it('keeps flows and slots apart, survives reopening, and deletes per flow', async () => {
    const s = open();
    await s.commit('f2', 'slot_a', parseLsn('0/100'));
    await s.commit('f2', 'slot_b', parseLsn('0/200'));
    await s.commit('f3', 'slot_a', parseLsn('0/300'));
    await s.close();
    const again = open();
    expect(await again.get('f2', 'slot_b')).toBe(parseLsn('0/200'));
    expect((await again.list('f2')).map((c) => [c.slot, c.lsn])).toEqual([
      ['slot_a', parseLsn('0/100')],
      ['slot_b', parseLsn('0/200')],
    ]);
    await again.delete('f2');
    expect(await again.get('f2', 'slot_a')).toBeNull();
    expect(await again.get('f3', 'slot_a')).toBe(parseLsn('0/300'));
    await again.close();
  });
});

describe('checkpoint DSN', () => {
  it('reads the file path out of the SQLite DSN forms', () => {
    expect(sqlitePathFromDsn('sqlite:///var/lib/x.db')).toBe('/var/lib/x.db');
    expect(sqlitePathFromDsn('file:/tmp/c.db?mode=rwc')).toBe('/tmp/c.db');
    expect(sqlitePathFromDsn('/tmp/plain.db')).toBe('/tmp/plain.db');
    expect(() => sqlitePathFromDsn('sqlite://')).toThrow(/DUCTSTREAM_CHECKPOINT_DSN/);
  });
});
