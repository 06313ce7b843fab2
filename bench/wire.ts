/**
 * Wire-format encode throughput and output size: `npx tsx bench/wire.ts [rows]`.
 *
 * For each format, encodes one batch of `rows` inserts (default 100k) of a mixed-type table
 * (int8, int4, text, numeric(12,2), float8, bool, timestamptz, date, nullable text, jsonb, text[],
 * uuid) as one file (`encodeFile`, the S3 path), best of 3 after a warm-up; and encodes the first
 * rows one message per change (`encodeMessage`, the Kafka/HTTP path). MB/s is output bytes per
 * second (MB = 10^6 bytes). `rows/s` is wall clock; `rows/cpu-s` divides by the process's CPU time
 * (user + system, GC threads included), which moves less when other work shares the machine.
 */
import os from 'node:os';
import type { Change } from '../src/core/change';
import type { Codec } from '../src/wire/codec';
import { createParquetCodec } from '../src/wire/parquet';
import { getCodec } from '../src/wire/registry';
import { MIXED, mixedChanges } from '../test/support/wire-fixtures';
import { rssLine } from './support';

interface Result {
  name: string;
  rowsPerSec: number;
  rowsPerCpuSec: number;
  mbPerSec: number;
  bytes: number;
}

interface Clock {
  wall: bigint;
  cpu: NodeJS.CpuUsage;
}

function startClock(): Clock {
  return { wall: process.hrtime.bigint(), cpu: process.cpuUsage() };
}

function elapsed(c: Clock): { wall: number; cpu: number } {
  const cpu = process.cpuUsage(c.cpu);
  return { wall: Number(process.hrtime.bigint() - c.wall) / 1e9, cpu: (cpu.user + cpu.system) / 1e6 };
}

function benchFile(name: string, codec: Codec, changes: Change[]): Result {
  codec.encodeFile(changes.slice(0, 1000), MIXED); // warm-up (JIT, wasm, schema caches)
  let best = Infinity;
  let bestCpu = Infinity;
  let bytes = 0;
  for (let i = 0; i < 3; i++) {
    const clock = startClock();
    bytes = codec.encodeFile(changes, MIXED).length;
    const t = elapsed(clock);
    best = Math.min(best, t.wall);
    bestCpu = Math.min(bestCpu, t.cpu);
  }
  return { name, rowsPerSec: changes.length / best, rowsPerCpuSec: changes.length / bestCpu, mbPerSec: bytes / 1e6 / best, bytes };
}

function benchMessages(name: string, codec: Codec, changes: Change[]): Result {
  for (const c of changes.slice(0, 200)) codec.encodeMessage(c, MIXED);
  const clock = startClock();
  let bytes = 0;
  for (const c of changes) bytes += codec.encodeMessage(c, MIXED).length;
  const t = elapsed(clock);
  return { name, rowsPerSec: changes.length / t.wall, rowsPerCpuSec: changes.length / t.cpu, mbPerSec: bytes / 1e6 / t.wall, bytes };
}

function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

function printTable(title: string, results: Result[], rows: number): void {
  console.log(`\n${title}`);
  console.log('| format | rows/s | rows/cpu-s | MB/s | bytes | bytes/row |');
  console.log('|---|---:|---:|---:|---:|---:|');
  for (const r of results) console.log(row(r, rows));
}

function row(r: Result, rows: number): string {
  return `| ${r.name} | ${fmt(r.rowsPerSec)} | ${fmt(r.rowsPerCpuSec)} | ${fmt(r.mbPerSec, 1)} | ${fmt(r.bytes)} | ${fmt(r.bytes / rows, 1)} |`;
}

function main(): void {
  const rows = Number(process.argv[2] ?? 100_000);
  const changes = mixedChanges(rows);
  console.log(
    `node ${process.version}, load average ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}, ${rows.toLocaleString('en-US')} rows of ${MIXED.schema}.${MIXED.name} (${MIXED.columns.length} columns)`,
  );

  const files: Result[] = [];
  for (const f of ['json', 'arrow', 'avro', 'proto'] as const) files.push(benchFile(f, getCodec(f), changes));
  for (const compression of ['snappy', 'zstd', 'none'] as const)
    files.push(benchFile(`parquet (${compression})`, createParquetCodec({ compression }), changes));
  printTable(`encodeFile: one ${rows.toLocaleString('en-US')}-row file per format (best of 3)`, files, rows);

  const messageRows = Math.min(rows, 20_000);
  const messages: Result[] = [];
  for (const f of ['json', 'avro', 'proto', 'arrow'] as const) messages.push(benchMessages(f, getCodec(f), changes.slice(0, messageRows)));
  const parquetRows = Math.min(rows, 2_000);
  const pq = benchMessages('parquet (snappy)', getCodec('parquet'), changes.slice(0, parquetRows));
  printTable(
    `encodeMessage: one message per change (${messageRows.toLocaleString('en-US')} changes; parquet ${parquetRows.toLocaleString('en-US')})`,
    messages,
    messageRows,
  );
  console.log(row(pq, parquetRows));
  process.stdout.write(rssLine());
}

main();
