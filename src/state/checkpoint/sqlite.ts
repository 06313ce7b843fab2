import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import { DuctError } from '../../core/errors';
import { formatLsn, type Lsn } from '../../core/lsn';
import type { Checkpoint, CheckpointStore } from './store';

/**
 * Checkpoints in a local SQLite file, for standalone workers without DUCTSTREAM_POSTGRES_DSN.
 * Writes are synchronous and fsynced by SQLite (WAL journal, synchronous=FULL) before `commit` resolves.
 * LSNs are stored as 64-bit integers (SQLite INTEGER), compared numerically with MAX().
 */
export class SqliteCheckpointStore implements CheckpointStore {
  private readonly db: BetterSqlite3.Database;

  constructor(path: string) {
    // Imported here so that Postgres-only deployments never load the native module.
    const Database = require('better-sqlite3') as typeof BetterSqlite3;
    if (path !== ':memory:') {
      try {
        mkdirSync(dirname(path), { recursive: true });
      } catch (e) {
        throw new DuctError('invalid_argument', `DUCTSTREAM_CHECKPOINT_PATH: cannot create directory ${dirname(path)}: ${(e as Error).message}`, {
          field: 'DUCTSTREAM_CHECKPOINT_PATH',
          hint: 'point it at a writable location',
        });
      }
    }
    try {
      this.db = new Database(path);
    } catch (e) {
      throw new DuctError('invalid_argument', `DUCTSTREAM_CHECKPOINT_PATH: cannot open SQLite file ${path}: ${(e as Error).message}`, {
        field: 'DUCTSTREAM_CHECKPOINT_PATH',
        hint: 'point it at a writable file',
      });
    }
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(`CREATE TABLE IF NOT EXISTS checkpoints (
      flow_id TEXT NOT NULL, slot TEXT NOT NULL, lsn INTEGER NOT NULL, lsn_text TEXT NOT NULL, updated_at TEXT NOT NULL,
      PRIMARY KEY (flow_id, slot))`);
    this.db.defaultSafeIntegers(true);
  }

  async get(flowId: string, slot: string): Promise<Lsn | null> {
    const row = this.db.prepare('SELECT lsn FROM checkpoints WHERE flow_id = ? AND slot = ?').get(flowId, slot) as { lsn: bigint } | undefined;
    return row ? BigInt(row.lsn) : null;
  }

  async commit(flowId: string, slot: string, lsn: Lsn): Promise<Lsn> {
    const now = new Date().toISOString();
    const row = this.db
      .prepare(
        `INSERT INTO checkpoints (flow_id, slot, lsn, lsn_text, updated_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (flow_id, slot) DO UPDATE SET
           lsn_text = CASE WHEN excluded.lsn > checkpoints.lsn THEN excluded.lsn_text ELSE checkpoints.lsn_text END,
           lsn = MAX(checkpoints.lsn, excluded.lsn), updated_at = excluded.updated_at
         RETURNING lsn`,
      )
      .get(flowId, slot, lsn, formatLsn(lsn), now) as { lsn: bigint };
    return BigInt(row.lsn);
  }

  async list(flowId?: string): Promise<Checkpoint[]> {
    const rows = (
      flowId
        ? this.db.prepare('SELECT * FROM checkpoints WHERE flow_id = ? ORDER BY flow_id, slot').all(flowId)
        : this.db.prepare('SELECT * FROM checkpoints ORDER BY flow_id, slot').all()
    ) as Array<{ flow_id: string; slot: string; lsn: bigint; updated_at: string }>;
    return rows.map((r) => ({ flowId: r.flow_id, slot: r.slot, lsn: BigInt(r.lsn), updatedAt: new Date(r.updated_at) }));
  }

  async delete(flowId: string): Promise<void> {
    this.db.prepare('DELETE FROM checkpoints WHERE flow_id = ?').run(flowId);
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}

/** The SQLite file of `DUCTSTREAM_CHECKPOINT_DSN` (`sqlite:///abs/path.db`, `file:path.db?...`, or a bare path). */
export function sqlitePathFromDsn(dsn: string): string {
  let p = dsn.trim();
  if (/^sqlite3?:\/\//i.test(p)) p = p.replace(/^sqlite3?:\/\//i, '');
  else if (/^sqlite3?:/i.test(p)) p = p.replace(/^sqlite3?:/i, '');
  if (/^file:/i.test(p)) p = p.replace(/^file:(\/\/)?/i, '');
  p = p.split('?')[0]!;
  if (p === '')
    throw new DuctError('invalid_argument', 'DUCTSTREAM_CHECKPOINT_DSN: no file path in the DSN', {
      field: 'DUCTSTREAM_CHECKPOINT_DSN',
      hint: 'use e.g. sqlite:///var/lib/ductstream/checkpoints.db or file:/path/checkpoints.db',
    });
  return p;
}
