/** Small helpers shared by the benchmarks: percentiles, formatting, a private cluster. */
import { readdirSync, readFileSync } from 'node:fs';
import { Client } from 'pg';
import { startLocalCluster, type LocalCluster } from '../tools/localpg';

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

export function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  if (i >= 0 && process.argv[i + 1]) return process.argv[i + 1]!;
  return process.env[`BENCH_${name.toUpperCase().replace(/-/g, '_')}`] ?? fallback;
}

export interface BenchCluster {
  cluster: LocalCluster;
  admin: Client;
  createDatabase(name: string): Promise<string>;
  stop(): Promise<void>;
}

/** A private PostgreSQL with logical replication, like the tests' (fsync off: this measures the pipeline). */
export async function startBenchCluster(): Promise<BenchCluster> {
  const cluster = await startLocalCluster();
  const admin = new Client(cluster.dsn());
  await admin.connect();
  return {
    cluster,
    admin,
    createDatabase: async (name) => {
      await admin.query(`CREATE DATABASE "${name}"`);
      return cluster.dsn(name);
    },
    stop: async () => {
      await admin.end().catch(() => undefined);
      await cluster.stop();
    },
  };
}

/** Prints a markdown table, then this process's RSS (every bench reports its memory). */
export function printTable(headers: string[], rows: Array<Array<string>>): void {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => '| ' + cells.map((c, i) => c.padStart(widths[i]!)).join(' | ') + ' |';
  process.stdout.write(line(headers) + '\n' + '|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|\n');
  for (const r of rows) process.stdout.write(line(r) + '\n');
  process.stdout.write(rssLine());
}

/** CPU time of this process so far, in microseconds: its main (JS) thread and all other threads (DuckDB, libuv pool, V8 helpers). Linux only (zeros elsewhere). */
export function threadCpuMicros(): { main: number; others: number } {
  const out = { main: 0, others: 0 };
  try {
    for (const tid of readdirSync('/proc/self/task')) {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const micros = (Number(fields[11]) + Number(fields[12])) * 10_000; // utime + stime, in 1/100 s
      if (Number(tid) === process.pid) out.main += micros;
      else out.others += micros;
    }
  } catch {
    // not Linux: no per-thread figures
  }
  return out;
}

/** The 5-column table every CDC benchmark streams. */
export async function createItemsTable(db: Client): Promise<void> {
  await db.query(
    'CREATE TABLE items (id bigint PRIMARY KEY, qty int NOT NULL, name text NOT NULL, price numeric(12,2) NOT NULL, updated_at timestamptz NOT NULL)',
  );
}

/** Inserts rows 1..rows of `items`, or updates every one of them, in transactions of 50k rows. */
export async function writeItems(db: Client, phase: 'insert' | 'update', rows: number): Promise<void> {
  for (let lo = 1; lo <= rows; lo += 50_000) {
    const hi = Math.min(rows, lo + 49_999);
    if (phase === 'insert')
      await db.query(`INSERT INTO items SELECT g, g % 1000, 'item ' || g, (g % 10000) / 100.0, now() FROM generate_series(${lo}, ${hi}) g`);
    else await db.query(`UPDATE items SET qty = qty + 1, updated_at = now() WHERE id BETWEEN ${lo} AND ${hi}`);
  }
}

/** The process's peak resident set so far, in MB (what every bench prints). */
export function maxRssMb(): number {
  return process.resourceUsage().maxRSS / 1024;
}

/** One line with the peak and current RSS of this process. */
export function rssLine(): string {
  return `process RSS: peak ${fmt(maxRssMb())} MB, now ${fmt(process.memoryUsage().rss / 1024 / 1024)} MB\n`;
}
