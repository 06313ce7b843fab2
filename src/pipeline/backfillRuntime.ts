import { Pool } from 'pg';
import type { Batch, TableRef } from '../core/change';
import { tableKey } from '../core/change';
import type { Flow } from '../core/flow';
import { DuctError } from '../core/errors';
import type { Logger } from '../core/log';
import { isSnapshotFileLoading, isStaged, type Destination } from '../destinations/destination';
import type { SnapshotFile } from '../destinations/sql/snapshot-file';
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
import { ReadAhead } from './readAhead';
import { dropChunkRead, type ChunkRead } from './chunkRead';
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
  private closed = false;
  /** Exported snapshots found gone (their session ended): readers take fresh snapshots. */
  readonly goneSnapshots = new Set<string>();
  /** Chunks read ahead of their steps (write while reading, one chunk ahead per partition). */
  readonly readAhead = new ReadAhead<ChunkRead>(dropChunkRead);
  /** Per table: whether its chunks load as CSV files (see {@link csvLoads}). */
  private readonly csvTables = new Map<string, Promise<boolean>>();
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
    this.checkOpen();
    const run = this.tail.then(async () => {
      const dests = await this.openDestinations();
      await writeToAll(dests, toEncodedBatch(batch, this.deps.codecFor), this.flow.parallelism);
    });
    this.tail = run.catch(() => undefined);
    return run;
  }

  /**
   * Whether chunks of `rel` are read as CSV files and loaded by the destinations themselves: when
   * the flow has destinations and every one loads files and accepts the table (`csvLoadRefusal`).
   * Decided once per table and runtime, and logged (which path, and why not the file path).
   */
  csvLoads(rel: RelationState): Promise<boolean> {
    let decided = this.csvTables.get(rel.key);
    if (!decided) {
      decided = (async () => {
        const dests = await this.openDestinations();
        const refusals = dests.map((d) => `${d.name}: ${isSnapshotFileLoading(d) ? (d.csvLoadRefusal(rel.schema) ?? '') : 'loads decoded rows only'}`);
        const refused = refusals.filter((r) => !r.endsWith(': '));
        const csv = dests.length > 0 && refused.length === 0;
        if (csv) this.log.info('backfill chunks load as CSV files (COPY … FORMAT csv, read by the destination)', { table: rel.key });
        else this.log.info('backfill chunks load as decoded rows', { table: rel.key, reason: refused.join('; ') || 'no destination' });
        return csv;
      })();
      decided.catch(() => this.csvTables.delete(rel.key));
      this.csvTables.set(rel.key, decided);
    }
    return decided;
  }

  /** Loads a chunk's CSV file into every destination (all accepted it: {@link csvLoads}); like {@link write} otherwise. */
  writeSnapshotFile(file: SnapshotFile): Promise<void> {
    this.checkOpen();
    const run = this.tail.then(async () => {
      for (const d of await this.openDestinations()) {
        if (!isSnapshotFileLoading(d)) throw new DuctError('internal', `destination ${d.name} loads no files`, { retry: 'never' });
        await d.writeSnapshotFile(file);
      }
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
    this.checkOpen();
    if (!this.destinations) {
      this.destinations = openFlowDestinations(this.flow, this.deps.env.wireFormat, this.log);
      this.destinations.catch(() => (this.destinations = undefined));
    }
    return this.destinations;
  }

  /**
   * A closed runtime opens nothing again: a step still running when its workflow was cancelled
   * (or the process shut down) fails instead of reopening destinations nobody would close.
   */
  private checkOpen(): void {
    if (this.closed) {
      throw new DuctError('unavailable', `the backfill runtime of flow ${this.flow.id} is closed`, {
        retry: 'transient',
        hint: 'the backfill ended, was cancelled, or the process is stopping',
      });
    }
  }

  /** Waits for the write in progress, then closes the destinations, the source pool and the state store. */
  async close(): Promise<void> {
    this.closed = true;
    await this.readAhead.close();
    await this.tail;
    const dests = await this.destinations?.catch(() => []);
    this.destinations = undefined;
    await Promise.allSettled([...(dests ?? []).map((d) => d.close()), this.pool.end(), this.state.close()]);
  }
}

interface Held {
  runtime: Promise<BackfillRuntime>;
  /** Leases taken and not yet returned (workflow bodies and steps of this process). */
  users: number;
}

const runtimes = new Map<string, Held>();
/** Runtimes being closed, by flow: a new runtime of the flow opens its destinations after. */
const closing = new Map<string, Promise<void>>();

/**
 * Runs `fn` with the backfill runtime of a flow in this process, created on first use and closed
 * (destinations, source pool, state store) when its last user returns it: every backfill workflow
 * body and step of the process holds a lease while it runs, so a process that executed some
 * partitions of a backfill whose parent ran elsewhere, or whose backfill was cancelled (a cancelled
 * workflow runs no further step), does not keep the flow's destinations open (a DuckDB file stays
 * locked while any process holds it).
 */
export async function withBackfillRuntime<T>(flowId: string, deps: RunnerDeps, fn: (rt: BackfillRuntime) => Promise<T>): Promise<T> {
  let held = runtimes.get(flowId);
  if (!held) {
    const before = closing.get(flowId);
    const runtime = (async () => {
      await before;
      const flow = await deps.flows.get(flowId);
      if (!flow) throw new DuctError('not_found', `flow "${flowId}" does not exist`, { retry: 'never', field: 'flow_id' });
      return new BackfillRuntime(flow, deps);
    })();
    held = { runtime, users: 0 };
    runtimes.set(flowId, held);
  }
  held.users++;
  try {
    return await fn(await held.runtime);
  } finally {
    held.users--;
    if (held.users === 0 && runtimes.get(flowId) === held) await closeHeld(flowId, held);
  }
}

async function closeHeld(flowId: string, held: Held): Promise<void> {
  runtimes.delete(flowId);
  const done = (async () => {
    const rt = await held.runtime.catch(() => undefined);
    await rt?.close();
  })();
  closing.set(flowId, done);
  try {
    await done;
  } finally {
    if (closing.get(flowId) === done) closing.delete(flowId);
  }
}

/** Closes every backfill runtime of this process now (shutdown), whatever its leases. */
export async function releaseAllBackfillRuntimes(): Promise<void> {
  await Promise.allSettled([...runtimes.entries()].map(([flowId, held]) => closeHeld(flowId, held)));
  await Promise.allSettled([...closing.values()]);
}

/** Flows whose backfill runtime is open in this process (tests, status). */
export function openBackfillRuntimes(): string[] {
  return [...runtimes.keys()];
}
