import type { Pool } from 'pg';
import type { ServiceEnv } from '../../config/env';
import { PostgresCheckpointStore } from './postgres';
import { SqliteCheckpointStore, sqlitePathFromDsn } from './sqlite';
import type { CheckpointStore } from './store';

export type { Checkpoint, CheckpointStore } from './store';

/** The checkpoint store the environment asks for (DUCTSTREAM_CHECKPOINT_BACKEND / _PATH / _DSN). */
export function openCheckpointStore(env: ServiceEnv, statePool: Pool | undefined): CheckpointStore {
  if (env.checkpointBackend === 'postgres') {
    if (!statePool) throw new Error('postgres checkpoint store needs the DUCTSTREAM_POSTGRES_DSN pool');
    return new PostgresCheckpointStore(statePool);
  }
  return new SqliteCheckpointStore(env.checkpointDsn ? sqlitePathFromDsn(env.checkpointDsn) : env.checkpointPath);
}
