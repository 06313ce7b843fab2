import { Pool } from 'pg';
import type { Batch, TableRef } from '../core/change';
import { tableKey } from '../core/change';
import type { Flow } from '../core/flow';
import { DuctError } from '../core/errors';
import type { Logger } from '../core/log';
import { isStaged, type Destination } from '../destinations/destination';
import type { BatchResolution } from '../destinations/sql/options';
import { catalogQueryOf } from '../source/postgres/catalogQuery';
import { parsePostgresSourceConfig, type PostgresSourceConfig } from '../source/postgres/config';
import { clientConfigFromDsn } from '../source/postgres/dsn';
import { internalSchemasOf } from '../source/postgres/internalSchemas';
import type { RelationState } from '../source/postgres/schema/relationState';
import { loadSnapshotRelation } from '../source/postgres/snapshot/reader';
import { openSnapshotStateStore, type SnapshotStateStore } from '../services/backfill/stateStore';
import type { RunnerDeps } from './deps';
import { openFlowDestinations } from './destinations';
import { toEncodedBatch } from './encodedBatch';
import { writeToAll } from './writeAll';

/**
 * The live side of a flow's backfill in this process, shared by every partition it executes: a
 * pool of source connections, the table schemas (read once), the flow's destinations (opened once)
 * and the state store. Writes go to the destinations one batch at a time (their contract), in the
 * order partitions hand them over.
 */
export class BackfillRuntime {
  readonly sourceConfig: PostgresSourceConfig;
  readonly pool: Pool;
  readonly state: SnapshotStateStore;
  private destinations: Promise<Destination[]> | undefined;
  private readonly relations = new Map<string, Promise<RelationState>>();
  private tail: Promise<unknown> = Promise.resolve();
  /** Exported snapshots found gone (their session ended): readers take fresh snapshots. */
  readonly goneSnapshots = new Set<string>();
  readonly log: Logger;

  constructor(
    readonly flow: Flow,
    private readonly deps: RunnerDeps,
  ) {
    this.sourceConfig = parsePostgresSourceConfig(flow.source.options, 'source.options');
    this.log = deps.log.child({ flow: flow.id, component: 'backfill' });
    this.pool = new Pool({
      ...clientConfigFromDsn(this.sourceConfig.dsn, { applicationName: 'ductstream-backfill' }),
      max: this.sourceConfig.snapshot.workers + 1,
    });
    this.pool.on('error', (e) => this.log.warn('idle source connection failed', { error: e.message }));
    this.state = openSnapshotStateStore(this.sourceConfig.snapshot, this.sourceConfig.dsn);
  }

  relation(table: TableRef): Promise<RelationState> {
    const key = tableKey(table);
    let r = this.relations.get(key);
    if (!r) {
      r = (async () => {
        const client = await this.pool.connect();
        try {
          return await loadSnapshotRelation(catalogQueryOf(client), table, this.sourceConfig.resolveTypes, internalSchemasOf(this.sourceConfig));
        } finally {
          client.release();
        }
      })();
      r.catch(() => this.relations.delete(key));
      this.relations.set(key, r);
    }
    return r;
  }

  /** Writes a batch to every destination of the flow: durable when it resolves; one batch at a time. */
  write(batch: Batch): Promise<void> {
    const run = this.tail.then(async () => {
      const dests = await this.openDestinations();
      await writeToAll(dests, toEncodedBatch(batch, this.deps.codecFor), this.flow.parallelism);
    });
    this.tail = run.catch(() => undefined);
    return run;
  }

  /**
   * Moves staged rows of `tables` into their targets in every staged destination: `mode` when
   * given (-resync: replace), else each destination's own `batch_resolution`, else `fallback`
   * (-resolve-staging: append). Destinations that stage nothing have nothing to move.
   */
  async resolveStaging(tables: TableRef[], mode: BatchResolution | undefined, fallback: BatchResolution): Promise<number> {
    const dests = await this.openDestinations();
    let resolved = 0;
    for (const d of dests) {
      if (!isStaged(d)) continue;
      const own = (d as { batchResolution?: BatchResolution }).batchResolution ?? 'none';
      const m = mode ?? (own !== 'none' ? own : fallback);
      if (m === 'none') continue;
      await d.resolveStaging(tables, m);
      resolved++;
    }
    return resolved;
  }

  /** Whether some destination stages rows (`batch_mode=staging`). */
  async hasStaging(): Promise<boolean> {
    return (await this.openDestinations()).some((d) => isStaged(d) && (d as { config?: { batchMode?: string } }).config?.batchMode === 'staging');
  }

  private openDestinations(): Promise<Destination[]> {
    if (!this.destinations) {
      this.destinations = openFlowDestinations(this.flow, this.deps.env.wireFormat, this.log);
      this.destinations.catch(() => (this.destinations = undefined));
    }
    return this.destinations;
  }

  async close(): Promise<void> {
    await this.tail;
    const dests = await this.destinations?.catch(() => []);
    this.destinations = undefined;
    await Promise.allSettled([...(dests ?? []).map((d) => d.close()), this.pool.end(), this.state.close()]);
  }
}

const runtimes = new Map<string, Promise<BackfillRuntime>>();

/** The backfill runtime of a flow in this process (created on first use). */
export function backfillRuntimeFor(flowId: string, deps: RunnerDeps): Promise<BackfillRuntime> {
  let rt = runtimes.get(flowId);
  if (!rt) {
    rt = (async () => {
      const flow = await deps.flows.get(flowId);
      if (!flow) throw new DuctError('not_found', `flow "${flowId}" does not exist`, { retry: 'never', field: 'flow_id' });
      return new BackfillRuntime(flow, deps);
    })();
    rt.catch(() => runtimes.delete(flowId));
    runtimes.set(flowId, rt);
  }
  return rt;
}

export async function releaseBackfillRuntime(flowId: string): Promise<void> {
  const rt = runtimes.get(flowId);
  runtimes.delete(flowId);
  await (await rt?.catch(() => undefined))?.close();
}

export async function releaseAllBackfillRuntimes(): Promise<void> {
  await Promise.allSettled([...runtimes.keys()].map(releaseBackfillRuntime));
}
