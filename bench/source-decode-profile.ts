/**
 * The source's decoding cost per row without a server: captures the pgoutput stream of N inserts
 * and N updates of the table of bench/cdc-duckdb once (a private cluster), then replays the
 * captured XLogData messages through the decoder and the change assembler several times and
 * reports the CPU time per row (best of the rounds). With `--capture FILE` the stream is saved to
 * (or, when FILE exists, read from) FILE, so repeated runs skip the cluster.
 *
 *   npm run build && node [--cpu-prof] dist/bench/source-decode-profile.js [--rows 200000] [--capture /tmp/items.pgoutput]
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { Client } from 'pg';
import type { Batch } from '../src/core/change';
import { parsePgoutput } from '../src/source/postgres/pgoutput/decoder';
import { readLsn, XLOG_DATA, XLOG_DATA_HEADER } from '../src/source/postgres/pgoutput/framing';
import type { RelationMessage } from '../src/source/postgres/pgoutput/messages';
import { buildRelationState, type RelationState } from '../src/source/postgres/schema/relationState';
import { ChangeAssembler } from '../src/source/postgres/stream/assembler';
import { ReplicationConnection } from '../src/source/postgres/stream/replicationConnection';
import { TypeRegistry } from '../src/source/postgres/types/resolver';
import { arg, createItemsTable, fmt, printTable, startBenchCluster, writeItems } from './support';

const ROWS = Number(arg('rows', '200000'));
const CAPTURE = arg('capture', '');
const ROUNDS = Number(arg('rounds', '5'));
const BATCH = Number(arg('batch-size', '10000'));

/** Length-prefixed XLogData messages of both phases, and where the update phase starts. */
interface Capture {
  messages: Buffer[];
  updateStart: number;
}

async function capture(): Promise<Capture> {
  const bench = await startBenchCluster();
  try {
    const dsn = await bench.createDatabase('shop');
    const db = new Client(dsn);
    await db.connect();
    await createItemsTable(db);
    await db.query('CREATE PUBLICATION bench_pub FOR TABLE items');
    await db.query(`SELECT pg_create_logical_replication_slot('cap', 'pgoutput')`);
    await writeItems(db, 'insert', ROWS);
    await writeItems(db, 'update', ROWS);
    await db.end();
    const conn = await ReplicationConnection.open(dsn, 'dsn', 'capture', () => undefined);
    const messages: Buffer[] = [];
    let rows = 0;
    let updateStart = -1;
    let lastBegin = 0;
    await new Promise<void>((resolve, reject) => {
      conn
        .start('cap', 'bench_pub', 0n, {
          onCopyData: (buf, start, end) => {
            const chunk = buf.subarray(start, end);
            if (chunk[0] !== XLOG_DATA) return;
            const tag = chunk[XLOG_DATA_HEADER];
            if (tag === 0x42) lastBegin = messages.length;
            if (tag === 0x55 && updateStart < 0) updateStart = lastBegin;
            messages.push(Buffer.from(chunk));
            if (tag === 0x49 || tag === 0x55) rows++;
            if (tag === 0x43 && rows >= 2 * ROWS) resolve();
          },
          onFailure: reject,
        })
        .catch(reject);
    });
    await conn.stop();
    return { messages, updateStart };
  } finally {
    await bench.stop();
  }
}

function save(file: string, c: Capture): void {
  const parts: Buffer[] = [Buffer.from(Uint32Array.of(c.updateStart).buffer)];
  for (const m of c.messages) parts.push(Buffer.from(Uint32Array.of(m.length).buffer), m);
  writeFileSync(file, Buffer.concat(parts));
}

function load(file: string): Capture {
  const buf = readFileSync(file);
  const updateStart = buf.readUInt32LE(0);
  const messages: Buffer[] = [];
  for (let pos = 4; pos < buf.length;) {
    const n = buf.readUInt32LE(pos);
    messages.push(buf.subarray(pos + 4, pos + 4 + n));
    pos += 4 + n;
  }
  return { messages, updateStart };
}

function cpuMicros(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

/** Decodes `messages` as the replication session does; returns the rows seen. */
function replay(messages: Buffer[], relations: Map<number, RelationState>): number {
  const assembler = new ChangeAssembler('bench', BATCH, 0n, relations);
  let rows = 0;
  const drain = (): void => {
    for (let b: Batch | undefined; (b = assembler.takeReady()) !== undefined;) rows += b.changes.length;
  };
  for (const chunk of messages) {
    const tag = chunk[XLOG_DATA_HEADER];
    if (tag === 0x49 || tag === 0x55 || tag === 0x44) {
      assembler.onRowChange(chunk, XLOG_DATA_HEADER, readLsn(chunk, 1));
      if (assembler.readyCount > 0) drain();
      continue;
    }
    const m = parsePgoutput(chunk, XLOG_DATA_HEADER);
    if (m.tag === 'begin') assembler.onBegin(m);
    else if (m.tag === 'commit') assembler.onCommit(m);
  }
  assembler.cut();
  drain();
  return rows;
}

async function main(): Promise<void> {
  const cap = CAPTURE && existsSync(CAPTURE) ? load(CAPTURE) : await capture();
  if (CAPTURE && !existsSync(CAPTURE)) save(CAPTURE, cap);
  const relations = new Map<number, RelationState>();
  for (const chunk of cap.messages) {
    if (chunk[XLOG_DATA_HEADER] !== 0x52) continue;
    const rel = parsePgoutput(chunk, XLOG_DATA_HEADER) as RelationMessage;
    const types = new TypeRegistry(false);
    const info = { found: true, notNull: new Set(rel.columns.map((c) => c.name)), primaryKey: ['id'], types: rel.columns.map(() => undefined) };
    relations.set(rel.relationId, buildRelationState(rel, info, types, new Set(), new Map()));
  }
  const results: string[][] = [];
  for (const [phase, part] of [
    ['insert', cap.messages.slice(0, cap.updateStart)],
    ['update', cap.messages.slice(cap.updateStart)],
  ] as const) {
    let best = Infinity;
    let rows = 0;
    for (let r = 0; r < ROUNDS; r++) {
      const t0 = cpuMicros();
      rows = replay(part, relations);
      best = Math.min(best, cpuMicros() - t0);
    }
    results.push([phase, fmt(rows), fmt(best / rows, 3), fmt((rows * 1e6) / best)]);
  }
  process.stdout.write(`\nbench/source-decode-profile: ${fmt(ROWS)} rows per phase, batch_size ${BATCH}, best of ${ROUNDS}\n`);
  printTable(['phase', 'rows', 'CPU µs/row', 'rows/s (one core)'], results);
}

main().catch((e: unknown) => {
  process.stderr.write(`bench failed: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
