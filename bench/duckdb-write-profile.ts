/**
 * Where the DuckDB destination spends CPU: writes N rows of inserts, then N updates of the same
 * rows, in batches, through the real writer and session, and splits the process CPU time (Node
 * and DuckDB threads) per row into the session's calls (`load` = value conversion + Appender,
 * `executeScript`/`executeCounting` = the apply script and commit, `query`/`execute`) and the rest (JS planning,
 * grouping, load-data building). The table is the one of bench/cdc-duckdb.
 *
 *   npx tsx bench/duckdb-write-profile.ts [--rows 100000] [--batch 10000]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../src/core/log';
import { openDuckdb } from '../src/destinations/duckdb/client';
import { parseDuckdbConfig } from '../src/destinations/duckdb/config';
import { duckdbDialect } from '../src/destinations/duckdb/dialect';
import type { SqlSession } from '../src/destinations/sql/session';
import { WarehouseWriter } from '../src/destinations/sql/writer';
import type { Batch, Change, Row, TableRef } from '../src/core/change';
import { encodedBatch, table } from '../test/support/changes';
import { arg, fmt, printTable } from './support';

const ROWS = Number(arg('rows', '100000'));
const BATCH = Number(arg('batch', '10000'));

type Part = 'load' | 'executeScript' | 'execute' | 'query' | 'executeCounting';

/** `s` as a flat string decoded from bytes, as the source's values are (a template literal is a rope until read). */
function flat(s: string): string {
  return Buffer.from(s).toString('utf8');
}

function cpuMicros(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

/** A session that adds the CPU time of each call to `spent[method]`. */
function timed(inner: SqlSession, spent: Record<Part, number>): SqlSession {
  const wrap =
    <A extends unknown[], R>(part: Part, fn: (...a: A) => Promise<R>) =>
    async (...a: A): Promise<R> => {
      const t0 = cpuMicros();
      try {
        return await fn(...a);
      } finally {
        spent[part] += cpuMicros() - t0;
      }
    };
  return {
    load: wrap('load', inner.load.bind(inner)),
    executeScript: wrap('executeScript', inner.executeScript.bind(inner)),
    execute: wrap('execute', inner.execute.bind(inner)),
    query: wrap('query', inner.query.bind(inner)),
    ...(inner.executeCounting ? { executeCounting: wrap('executeCounting', inner.executeCounting.bind(inner)) } : {}),
  };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'ductstream-dd-'));
  const handle = await openDuckdb(join(dir, 'bench.duckdb'), 'dsn');
  try {
    const spent: Record<Part, number> = { load: 0, executeScript: 0, execute: 0, query: 0, executeCounting: 0 };
    const writer = WarehouseWriter.transactional({
      session: timed(handle.session, spent),
      dialect: duckdbDialect,
      options: parseDuckdbConfig({ dsn: join(dir, 'bench.duckdb') }, 'destinations[0].options'),
      flowId: 'bench',
      log: silentLogger,
    });
    const items = table('public.items', { id: 'int8', qty: 'int4', name: 'text', price: 'numeric(12,2)', updated_at: 'timestamptz' }, { primaryKey: ['id'] });
    const ref: TableRef = Object.freeze({ schema: items.schema, name: items.name });
    let lsn = 0x1_0000_0000n;
    /** One transaction's changes, shaped as the PostgreSQL source builds them (one TableRef, one literal shape). */
    const batchOf = (phase: 'insert' | 'update', lo: number, hi: number): Batch => {
      const commitLsn = (lsn += 0x100000n);
      const changes: Change[] = [];
      for (let i = lo; i <= hi; i++) {
        const id = BigInt(i);
        const after: Row = {
          id,
          qty: (i % 1000) + (phase === 'update' ? 1 : 0),
          name: flat(`item ${i}`),
          price: flat(`${Math.floor((i % 10000) / 100)}.${String(i % 100).padStart(2, '0')}`),
          updated_at: flat(`2024-05-06T07:08:09.${String(i % 1_000_000).padStart(6, '0')}Z`),
        };
        changes.push({
          op: phase,
          table: ref,
          lsn: commitLsn - 0x1000n + BigInt(i - lo),
          commitLsn,
          commitEndLsn: commitLsn + 0x30n,
          commitTimeMicros: 1_714_979_289_000_000n,
          xid: 1000,
          seq: i - lo,
          key: { id },
          before: null,
          after,
          unchangedToast: [],
        });
      }
      return { flowId: 'bench', changes, schemas: new Map([[`${items.schema}.${items.name}`, items]]), firstLsn: commitLsn, checkpointLsn: commitLsn + 0x30n };
    };
    const rows: string[][] = [];
    for (const phase of ['insert', 'update'] as const) {
      for (const k of Object.keys(spent) as Part[]) spent[k] = 0;
      let cpu = 0;
      let wall = 0;
      // Each batch is built just before it is written (as a source hands it over: fresh in
      // memory); only the write is timed.
      for (let lo = 1; lo <= ROWS; lo += BATCH) {
        const batch = batchOf(phase, lo, Math.min(ROWS, lo + BATCH - 1));
        const wall0 = performance.now();
        const cpu0 = cpuMicros();
        await writer.write(encodedBatch(batch));
        cpu += cpuMicros() - cpu0;
        wall += performance.now() - wall0;
      }
      const session = spent.load + spent.executeScript + spent.executeCounting + spent.execute + spent.query;
      const per = (us: number) => fmt(us / ROWS, 2);
      rows.push([
        phase,
        fmt(ROWS),
        fmt(BATCH),
        fmt(wall),
        fmt((ROWS * 1000) / wall),
        per(cpu),
        per(cpu - session),
        per(spent.load),
        per(spent.executeScript + spent.executeCounting),
        per(spent.execute + spent.query),
      ]);
    }
    const count = await handle.session.query('SELECT count(*) AS n, sum(qty) AS q FROM public.items');
    process.stdout.write(`\nbench/duckdb-write-profile: ${fmt(2 * ROWS)} changes written, table holds ${String(count[0]!.n)} rows\n`);
    printTable(['phase', 'rows', 'batch', 'wall ms', 'rows/s', 'CPU µs/row', 'JS plan µs/row', 'load µs/row', 'apply µs/row', 'other µs/row'], rows);
  } finally {
    handle.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`bench failed: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
