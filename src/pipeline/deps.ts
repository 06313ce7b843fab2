import type { PostgresSourceConfig } from '../source/postgres/config';
import type { PostgresSourceDeps } from '../source/postgres/source';
import type { Source } from '../source/source';
import type { CheckpointStore } from '../state/checkpoint/store';
import type { DdlStore } from '../ddl/store';
import type { ServiceEnv } from '../config/env';
import type { Logger } from '../core/log';
import type { FlowStore } from '../state/flows/store';
import type { Codec, WireFormat } from '../wire/codec';

/**
 * What the data path needs from the process it runs in, given to a PipelineContext (context.ts) at
 * start-up (worker, server, admin command, test).
 */
export interface RunnerDeps {
  env: ServiceEnv;
  flows: FlowStore;
  checkpoints: CheckpointStore;
  codecFor: (f: WireFormat) => Codec;
  log: Logger;
  /** DDL events and schema baselines; absent for a standalone worker (no state database): no DDL governance then. */
  ddl?: DdlStore;
  /**
   * Opens a flow's replication source; absent: a PostgresSource. Tests wrap the real
   * source here to reorder or delay what it hands out.
   */
  openSource?: (config: PostgresSourceConfig, deps: PostgresSourceDeps) => Source;
  /** The backfill hold of a flow (see {@link BackfillHold}); absent: never held. Cheap (cached by the implementation). */
  backfillHold?: (flowId: string) => Promise<BackfillHold | null>;
}

/**
 * While a backfill of some tables runs, the flow's stream does not write their changes committed
 * at or after `lsn` (at or before the backfill's snapshot LSN) and its checkpoint stops before the
 * first change it left out; other tables keep streaming. When the hold ends the stream re-reads
 * from that checkpoint: the held tables' changes then apply after the snapshot rows (changes the
 * snapshot already holds are skipped by the destination's watermark), other tables' changes are
 * replays that destinations skip.
 */
export interface BackfillHold {
  lsn: bigint;
  /** `schema.table` keys of the tables being backfilled. */
  tables: ReadonlySet<string>;
}
