import type { ServiceEnv } from '../config/env';
import type { Logger } from '../core/log';
import { getCodec } from '../wire/registry';
import type { RunnerDeps } from './deps';
import { ProgressBoard } from './progress';
import { RuntimeRegistry } from './runtimeRegistry';

/**
 * Everything the data path of one process holds: its dependencies (stores, environment, codecs,
 * logger), the runtime of each flow it runs, and their live progress. Created once at start-up
 * (server, worker, admin command, test, bench) and passed in; nothing in `src/pipeline` reads a
 * module-level variable. Two contexts share nothing, so a test can build its own.
 */
export class PipelineContext {
  readonly progress = new ProgressBoard();
  readonly runtimes: RuntimeRegistry;

  constructor(readonly deps: RunnerDeps) {
    this.runtimes = new RuntimeRegistry(deps, this.progress);
  }
}

/** The stores a process opened (its `AppState`) that the data path uses. */
export type RunnerStores = Pick<RunnerDeps, 'flows' | 'checkpoints' | 'ddl'>;

/**
 * The context of a server or worker from its environment, stores and logger (codecs from the
 * registry), and where backfill holds come from (none: never held).
 */
export function createPipelineContext(env: ServiceEnv, stores: RunnerStores, log: Logger, backfillHold?: RunnerDeps['backfillHold']): PipelineContext {
  return new PipelineContext({
    env,
    flows: stores.flows,
    checkpoints: stores.checkpoints,
    ...(stores.ddl ? { ddl: stores.ddl } : {}),
    ...(backfillHold ? { backfillHold } : {}),
    codecFor: getCodec,
    log,
  });
}
