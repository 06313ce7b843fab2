import { Pool } from 'pg';
import { DuctError } from '../../core/errors';
import { formatLsn, parseLsn, type Lsn } from '../../core/lsn';
import type { Checkpoint, CheckpointStore } from './store';

/**
 * Checkpoints in `ductstream.checkpoints` (created by the knex migrations), one row per
 * (flow, slot). The LSN column is `pg_lsn`, so `GREATEST` compares positions, not text.
 */
export class PostgresCheckpointStore implements CheckpointStore {
  constructor(private readonly pool: Pool) {}

  async get(flowId: string, slot: string): Promise<Lsn | null> {
    const r = await this.query<{ lsn: string }>('SELECT lsn::text AS lsn FROM ductstream.checkpoints WHERE flow_id = $1 AND slot = $2', [flowId, slot]);
    return r.length > 0 ? parseLsn(r[0]!.lsn) : null;
  }

  async commit(flowId: string, slot: string, lsn: Lsn): Promise<Lsn> {
    const r = await this.query<{ lsn: string }>(
      `INSERT INTO ductstream.checkpoints (flow_id, slot, lsn, updated_at) VALUES ($1, $2, $3::pg_lsn, now())
       ON CONFLICT (flow_id, slot) DO UPDATE SET lsn = GREATEST(ductstream.checkpoints.lsn, EXCLUDED.lsn), updated_at = now()
       RETURNING lsn::text AS lsn`,
      [flowId, slot, formatLsn(lsn)],
    );
    return parseLsn(r[0]!.lsn);
  }

  async list(flowId?: string): Promise<Checkpoint[]> {
    const rows = await this.query<{ flow_id: string; slot: string; lsn: string; updated_at: Date }>(
      `SELECT flow_id, slot, lsn::text AS lsn, updated_at FROM ductstream.checkpoints ${flowId ? 'WHERE flow_id = $1' : ''} ORDER BY flow_id, slot`,
      flowId ? [flowId] : [],
    );
    return rows.map((r) => ({ flowId: r.flow_id, slot: r.slot, lsn: parseLsn(r.lsn), updatedAt: r.updated_at }));
  }

  async delete(flowId: string): Promise<void> {
    await this.query('DELETE FROM ductstream.checkpoints WHERE flow_id = $1', [flowId]);
  }

  async close(): Promise<void> {
    // The pool belongs to the caller.
  }

  private async query<T>(sql: string, params: unknown[]): Promise<T[]> {
    try {
      return (await this.pool.query(sql, params)).rows as T[];
    } catch (e) {
      throw new DuctError('unavailable', `checkpoint store (DUCTSTREAM_POSTGRES_DSN): ${(e as Error).message}`, { retry: 'transient', cause: e });
    }
  }
}
