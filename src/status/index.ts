import type { AppState } from '../state/open';
import type { Logger } from '../core/log';
import type { WorkflowReader as BackfillReader } from '../services/backfill/status';
import { BackfillStatusExtension } from './backfill';
import { DdlStatusExtension } from './ddl';
import type { StatusExtension } from './model';
import type { RunHistory } from './runHistory';
import { StatusSampler } from './sampler';
import { startStatsPublisher, type StatsPublisher } from './statsPublisher';
import { MemoryFlowStatsStore, PostgresFlowStatsStore, type FlowStatsStore } from './statsStore';

export type { FlowStatus } from './model';

/** The stats store of a process: the state database when there is one, else memory (standalone worker). */
export function statsStoreFor(state: AppState): FlowStatsStore {
  return state.pool ? new PostgresFlowStatsStore(state.pool) : new MemoryFlowStatsStore();
}

/** What every status surface adds: pending DDL (with the state database) and backfill progress (with DBOS records to read). */
export function statusExtensionsFor(state: AppState, backfills: BackfillReader | null): StatusExtension[] {
  return [...(state.ddl ? [new DdlStatusExtension(state.ddl)] : []), ...(backfills ? [new BackfillStatusExtension(backfills)] : [])];
}

/** What a process that runs flows and shows their status starts (server, worker). */
export interface StatusRuntime {
  sampler: StatusSampler;
  publisher: StatsPublisher;
  stop(): Promise<void>;
}

/**
 * Starts publishing this process's flow counters and sampling flow status every `intervalMs`
 * (all flows, or `only`). Extensions (pending DDL, backfill) are added to every status.
 */
export function startStatusRuntime(o: {
  state: AppState;
  runs: RunHistory | null;
  executor: string;
  log: Logger;
  intervalMs: number;
  only?: ReadonlySet<string>;
  extensions?: StatusExtension[];
  /** Sample periodically (default true); a worker without -metrics-listen only publishes. */
  sample?: boolean;
}): StatusRuntime {
  const stats = statsStoreFor(o.state);
  const publisher = startStatsPublisher({ store: stats, executor: o.executor, log: o.log });
  const sampler = new StatusSampler({
    deps: { flows: o.state.flows, checkpoints: o.state.checkpoints, stats, runs: o.runs, extensions: o.extensions },
    intervalMs: o.intervalMs,
    log: o.log,
    only: o.only,
  });
  if (o.sample !== false) sampler.start();
  return {
    sampler,
    publisher,
    stop: async () => {
      await sampler.stop();
      await publisher.stop();
      await o.runs?.close();
    },
  };
}
