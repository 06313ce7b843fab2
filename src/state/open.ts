import type { Pool } from 'pg';
import { openCheckpointStore } from './checkpoint';
import type { CheckpointStore } from './checkpoint/store';
import type { ServiceEnv } from '../config/env';
import { checkStateDatabase, createStatePool, migrateStateDatabase } from './db';
import { MemoryFlowStore } from './flows/memoryStore';
import { PostgresFlowStore } from './flows/postgresStore';
import type { FlowStore } from './flows/store';
import { DdlStore } from '../ddl/store';

/** The stores a process works with: flows and checkpoints, on DUCTSTREAM_POSTGRES_DSN or standalone. */
export interface AppState {
  pool?: Pool;
  flows: FlowStore;
  checkpoints: CheckpointStore;
  /** DDL events and schema baselines (only with the state database). */
  ddl?: DdlStore;
  close(): Promise<void>;
}

/**
 * Opens the state database (running its migrations) when DUCTSTREAM_POSTGRES_DSN is set; otherwise
 * flows live in memory (a worker's `-flow-file`) and checkpoints in SQLite.
 */
export async function openAppState(env: ServiceEnv): Promise<AppState> {
  let pool: Pool | undefined;
  let flows: FlowStore;
  if (env.postgresDsn) {
    pool = createStatePool(env.postgresDsn);
    await checkStateDatabase(pool);
    await migrateStateDatabase(env.postgresDsn);
    flows = new PostgresFlowStore(pool);
  } else {
    flows = new MemoryFlowStore();
  }
  const checkpoints = openCheckpointStore(env, pool);
  return {
    pool,
    flows,
    checkpoints,
    ...(pool ? { ddl: new DdlStore(pool) } : {}),
    close: async () => {
      await checkpoints.close();
      await pool?.end();
    },
  };
}
