/**
 * Where an event destination (kafka, http) spends CPU, without the source or DBOS: source-shaped
 * batches of the bench/cdc-* table (5 columns) are encoded (`batch.messages(format)`, memoized as
 * in the pipeline) and written to a real peer. Prints rows/s and this process's CPU µs per row,
 * split into the encoding and the destination's own work, plus the peer's CPU when it is a child.
 *
 *   npx tsx bench/event-destination-profile.ts kafka [--rows 100000] [--batch 1000] [--parallelism 1] [--compression none]
 *   npx tsx bench/event-destination-profile.ts http [--rows 20000] [--batch 1000] [--parallelism 8] [--mode change|batch]
 *
 * For http the peer is a child process (this file with --peer), and the same requests are also sent
 * by bare clients (`parallelism` requests in flight, only Content-Type): undici's pool (the client
 * the destination uses) and Node's http.request with a keep-alive agent, the ceilings of a Node
 * client against that peer.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Pool } from 'undici';
import type { Batch, Change, Row, TableRef } from '../src/core/change';
import { silentLogger } from '../src/core/log';
import '../src/destinations';
import type { Destination, EncodedBatch } from '../src/destinations/destination';
import { getDestinationKind } from '../src/destinations/registry';
import { toEncodedBatch } from '../src/pipeline/encodedBatch';
import { getCodec, parseWireFormat } from '../src/wire/registry';
import { startKafkaBroker } from '../test/support/peers/kafkaBroker';
import { table } from '../test/support/changes';
import { arg, fmt, printTable } from './support';

const KIND = process.argv[2] ?? 'kafka';
const ROWS = Number(arg('rows', KIND === 'http' ? '20000' : '100000'));
const BATCH = Number(arg('batch', '1000'));
const PARALLELISM = Number(arg('parallelism', KIND === 'http' ? '8' : '1'));
const FORMAT = parseWireFormat(arg('format', 'json'), '--format');

/** `s` as a flat string decoded from bytes, as the source's values are. */
function flat(s: string): string {
  return Buffer.from(s).toString('utf8');
}

function cpuMicros(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

const items = table('public.items', { id: 'int8', qty: 'int4', name: 'text', price: 'numeric(12,2)', updated_at: 'timestamptz' }, { primaryKey: ['id'] });
const ref: TableRef = Object.freeze({ schema: items.schema, name: items.name });
let lsn = 0x1_0000_0000n;

/** One transaction's inserts, shaped as the PostgreSQL source builds them. */
function batchOf(lo: number, hi: number): EncodedBatch {
  const commitLsn = (lsn += 0x100000n);
  const changes: Change[] = [];
  for (let i = lo; i <= hi; i++) {
    const id = BigInt(i);
    const after: Row = {
      id,
      qty: i % 1000,
      name: flat(`item ${i}`),
      price: flat(`${Math.floor((i % 10000) / 100)}.${String(i % 100).padStart(2, '0')}`),
      updated_at: flat(`2024-05-06T07:08:09.${String(i % 1_000_000).padStart(6, '0')}Z`),
    };
    changes.push({
      op: 'insert',
      table: ref,
      lsn: commitLsn - 0x10000n + BigInt(i - lo) * 0x40n,
      commitLsn,
      commitEndLsn: commitLsn + 0x30n,
      commitTimeMicros: 1_714_979_289_000_000n + BigInt(i),
      xid: 1000,
      seq: i - lo,
      key: { id },
      before: null,
      after,
      unchangedToast: [],
    });
  }
  const batch: Batch = {
    flowId: 'bench',
    changes,
    schemas: new Map([[`${items.schema}.${items.name}`, items]]),
    firstLsn: commitLsn,
    checkpointLsn: commitLsn + 0x30n,
  };
  return toEncodedBatch(batch, getCodec);
}

/** Child process CPU (user + system) in microseconds, from /proc. */
function childCpuMicros(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * 10_000;
  } catch {
    return 0;
  }
}

interface Peer {
  options: Record<string, string>;
  pid?: number;
  url?: string;
  stop(): Promise<void>;
}

async function startPeer(): Promise<Peer> {
  if (KIND === 'kafka' || KIND === 'bufstream') {
    const broker = await startKafkaBroker();
    return {
      options: { brokers: broker.bootstrap, topic: 'bench.{schema}.{table}', acks: 'all', compression: arg('compression', 'none') },
      pid: broker.pid,
      stop: () => broker.stop(),
    };
  }
  const child: ChildProcess = fork(__filename, ['--peer'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: process.execArgv });
  const port = await new Promise<number>((resolve) => child.once('message', (m: { port: number }) => resolve(m.port)));
  const url = `http://127.0.0.1:${port}/bench`;
  return {
    options: { url, mode: arg('mode', 'change'), headers: 'Authorization:Bearer bench' },
    pid: child.pid,
    url,
    stop: async () => {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    },
  };
}

/** The webhook peer: answers every request 200 once its body is read. */
function servePeer(): void {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end('{"ok":true}');
    });
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1', () => process.send!({ port: (server.address() as AddressInfo).port }));
}

/** The same POSTs with undici's pool and handler API, `PARALLELISM` in flight, no headers beyond Content-Type: the ceiling of the client the destination uses. */
async function bareUndici(url: string, bodies: Uint8Array[]): Promise<void> {
  const u = new URL(url);
  const pool = new Pool(u.origin, { connections: PARALLELISM, pipelining: 1 });
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < bodies.length) {
      const body = bodies[next++]!;
      await new Promise<void>((resolve, reject) =>
        pool.dispatch(
          { path: u.pathname, method: 'POST', headers: ['Content-Type', 'application/json'], body },
          { onConnect: () => undefined, onHeaders: () => true, onData: () => true, onComplete: () => resolve(), onError: reject },
        ),
      );
    }
  };
  await Promise.all(Array.from({ length: PARALLELISM }, worker));
  await pool.destroy();
}

/** The same POSTs with Node's own http client (keep-alive agent, `PARALLELISM` in flight). */
async function bareClient(url: string, bodies: Uint8Array[]): Promise<void> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: PARALLELISM });
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < bodies.length) {
      const body = bodies[next++]!;
      await new Promise<void>((resolve, reject) => {
        const req = http.request(url, { method: 'POST', agent, headers: { 'Content-Type': 'application/json', 'Content-Length': body.byteLength } }, (res) => {
          res.resume();
          res.on('end', resolve);
        });
        req.on('error', reject);
        req.end(body);
      });
    }
  };
  await Promise.all(Array.from({ length: PARALLELISM }, worker));
  agent.destroy();
}

async function main(): Promise<void> {
  const peer = await startPeer();
  const results: string[][] = [];
  try {
    const kind = getDestinationKind(KIND, 'kind');
    const config = kind.parseConfig(peer.options, 'destinations[0].options');
    const dest: Destination = await kind.create(config, { flowId: 'bench', name: 'dest', wireFormat: FORMAT, parallelism: PARALLELISM, log: silentLogger });
    await dest.open();
    // Warm-up (JIT, topic creation, connections).
    for (let i = 0; i < 3; i++) await dest.write(batchOf(1_000_000 + i * BATCH, 1_000_000 + (i + 1) * BATCH - 1));
    let encode = 0;
    let write = 0;
    let wall = 0;
    const peer0 = childCpuMicros(peer.pid);
    for (let lo = 1; lo <= ROWS; lo += BATCH) {
      const batch = batchOf(lo, Math.min(ROWS, lo + BATCH - 1));
      const w0 = performance.now();
      const c0 = cpuMicros();
      batch.messages(FORMAT);
      const c1 = cpuMicros();
      await dest.write(batch);
      const c2 = cpuMicros();
      wall += performance.now() - w0;
      encode += c1 - c0;
      write += c2 - c1;
    }
    const peerCpu = childCpuMicros(peer.pid) - peer0;
    await dest.close();
    const per = (us: number): string => fmt(us / ROWS, 1);
    results.push([`${KIND} destination`, fmt(ROWS), fmt((ROWS * 1000) / wall), per(encode + write), per(encode), per(write), peer.pid ? per(peerCpu) : '-']);
    if (peer.url && peer.options.mode === 'change') {
      for (const [what, send] of [
        ['bare undici client', bareUndici],
        ['bare node http client', bareClient],
      ] as const) {
        const bodies = batchOf(2_000_000, 2_000_000 + ROWS - 1).messages(FORMAT);
        const w0 = performance.now();
        const c0 = cpuMicros();
        const p0 = childCpuMicros(peer.pid);
        await send(peer.url, bodies);
        const cpu = cpuMicros() - c0;
        results.push([what, fmt(ROWS), fmt((ROWS * 1000) / (performance.now() - w0)), per(cpu), '-', per(cpu), per(childCpuMicros(peer.pid) - p0)]);
      }
    }
  } finally {
    await peer.stop();
  }
  process.stdout.write(
    `\nbench/event-destination-profile ${KIND}: ${FORMAT}, batch ${fmt(BATCH)}, parallelism ${PARALLELISM}, ${JSON.stringify({ ...peer.options, brokers: undefined, url: undefined, headers: undefined })}\n`,
  );
  printTable(['what', 'rows', 'rows/s', 'CPU µs/row', 'encode µs/row', 'write µs/row', 'peer CPU µs/row'], results);
}

if (process.argv.includes('--peer')) servePeer();
else
  main().catch((e: unknown) => {
    process.stderr.write(`bench failed: ${e instanceof Error ? e.stack : String(e)}\n`);
    process.exit(1);
  });
