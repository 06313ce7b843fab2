import type { CheckpointStore } from '../checkpoint/store';
import type { DdlStore } from '../ddl/store';
import type { ServiceEnv } from '../config/env';
import type { Logger } from '../core/log';
import type { FlowStore } from '../services/flows/store';
import type { Codec, WireFormat } from '../wire/codec';
import { getCodec } from '../wire/registry';

/**
 * What the data path needs from the process it runs in. Set once at start-up (worker or server)
 * with {@link setRunnerDeps}; DBOS steps read it, since workflow arguments must stay serializable.
 */
export interface RunnerDeps {
  env: ServiceEnv;
  flows: FlowStore;
  checkpoints: CheckpointStore;
  codecFor: (f: WireFormat) => Codec;
  log: Logger;
  /** DDL events and schema baselines; absent for a standalone worker (no state database): no DDL governance then. */
  ddl?: DdlStore;
}

let current: RunnerDeps | undefined;

export function setRunnerDeps(d: RunnerDeps): void {
  current = d;
}

export function runnerDeps(): RunnerDeps {
  if (!current) throw new Error('runner dependencies are not set: call setRunnerDeps at start-up');
  return current;
}

/** The stores a process opened (its `AppState`) that the data path uses. */
export type RunnerStores = Pick<RunnerDeps, 'flows' | 'checkpoints' | 'ddl'>;

/** Sets the runner dependencies of a server or worker from its environment, stores and logger (codecs from the registry). */
export function installRunnerDeps(env: ServiceEnv, stores: RunnerStores, log: Logger): void {
  setRunnerDeps({ env, flows: stores.flows, checkpoints: stores.checkpoints, ...(stores.ddl ? { ddl: stores.ddl } : {}), codecFor: getCodec, log });
}
