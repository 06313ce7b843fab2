/**
 * The operations view with many flows: one server (`dist/src/cli/server.js`, so `npm run build`
 * first) running N streaming flows (small tables, one each, into a local HTTP sink) on a private
 * PostgreSQL. Measures ListFlowStatus and GetFlowStatus latency (one call at a time), the status
 * page's /api/flows and /metrics, and the server's CPU while every flow is idle.
 *
 *   npm run build && npx tsx bench/flow-status.ts [--flows 200] [--idle-seconds 30]
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { credentials, loadPackageDefinition, Metadata, type Client, type ServiceError } from '@grpc/grpc-js';
import { Client as PgClient } from 'pg';
import { loadApiProtos } from '../src/api/protos';
import { startLocalCluster } from '../tools/localpg';
import { arg, fmt, percentile, printTable } from './support';

type Unary = (req: unknown, md: Metadata, cb: (err: ServiceError | null, res: unknown) => void) => void;

function client(address: string): (method: string, req: Record<string, unknown>) => Promise<unknown> {
  const pkg = loadPackageDefinition(loadApiProtos()) as unknown as {
    ductstream: { v1: { FlowService: new (a: string, c: ReturnType<typeof credentials.createInsecure>) => Client } };
  };
  const c = new pkg.ductstream.v1.FlowService(address, credentials.createInsecure()) as unknown as Record<string, Unary>;
  return (method, req) =>
    new Promise((resolve, reject) =>
      c[method]!.call(c, req, new Metadata(), (err, res) => (err ? reject(new Error(`${method}: ${err.details}`)) : resolve(res))),
    );
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t) / 1e6;
}

function row(name: string, ms: number[]): string[] {
  const s = [...ms].sort((a, b) => a - b);
  return [name, String(s.length), fmt(percentile(s, 50), 1), fmt(percentile(s, 99), 1), fmt(s[s.length - 1]!, 1)];
}

/** utime + stime of a process, in seconds (Linux). */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

async function main(): Promise<void> {
  const n = Number(arg('flows', '200'));
  const idleSeconds = Number(arg('idle-seconds', '30'));
  const cluster = await startLocalCluster({
    settings: { max_replication_slots: String(n + 16), max_wal_senders: String(n + 16), max_connections: String(3 * n + 100) },
  });
  const admin = new PgClient(cluster.dsn());
  await admin.connect();
  await admin.query('CREATE DATABASE bench_status_src');
  await admin.query('CREATE DATABASE bench_status_state');
  const src = new PgClient(cluster.dsn('bench_status_src'));
  await src.connect();
  for (let i = 0; i < n; i++) await src.query(`CREATE TABLE t${i} (id bigint PRIMARY KEY, v text)`);
  const sink = createServer((req, res) => req.resume().on('end', () => res.end('ok')));
  await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r));
  const sinkUrl = `http://127.0.0.1:${(sink.address() as { port: number }).port}/`;

  const server = spawn(process.execPath, [join(__dirname, '..', 'dist', 'src', 'cli', 'server.js')], {
    env: {
      ...process.env,
      DUCTSTREAM_POSTGRES_DSN: cluster.dsn('bench_status_state'),
      DUCTSTREAM_GRPC_LISTEN: '127.0.0.1:0',
      DUCTSTREAM_HTTP_LISTEN: '127.0.0.1:0',
      DBOS__VMID: 'bench-status',
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  try {
    const [address, http] = await new Promise<[string, string]>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`server did not start in 60 s:\n${stderr}`)), 60_000);
      server.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
        const g = /serving gRPC on (\S+)/.exec(stderr);
        const h = /status page and \/metrics on (\S+)/.exec(stderr);
        if (g && h) {
          clearTimeout(timer);
          resolve([g[1]!, h[1]!]);
        }
      });
      server.on('exit', () => reject(new Error(`server exited:\n${stderr}`)));
    });
    const call = client(address);
    for (let i = 0; i < n; i++) {
      const id = `f${String(i).padStart(4, '0')}`;
      await call('CreateFlow', {
        start_immediately: true,
        flow: {
          id,
          name: id,
          source: {
            name: 'pg',
            type: 'postgres',
            options: { dsn: cluster.dsn('bench_status_src'), slot: `s${i}`, publication: `p${i}`, publication_tables: `public.t${i}` },
          },
          destinations: [{ name: 'sink', type: 'http', options: { url: sinkUrl } }],
        },
      });
    }
    const t0 = Date.now();
    for (;;) {
      const all = ((await call('ListFlowStatus', {})) as { flows: Array<{ checkpoint_lsn: string }> }).flows;
      const ready = all.filter((f) => f.checkpoint_lsn !== '').length;
      if (ready === n) break;
      if (Date.now() - t0 > 600_000) throw new Error(`only ${ready} of ${n} flows streaming after 10 minutes`);
      await new Promise((r) => setTimeout(r, 2000));
    }
    process.stdout.write(`${n} flows streaming after ${fmt((Date.now() - t0) / 1000, 0)} s\n`);
    for (let i = 0; i < n; i++) await src.query(`INSERT INTO t${i} SELECT g, 'x' FROM generate_series(1, 10) g`);
    await new Promise((r) => setTimeout(r, 10_000));

    const cpu0 = cpuSeconds(server.pid!);
    const wall0 = Date.now();
    await new Promise((r) => setTimeout(r, idleSeconds * 1000));
    const idleCpu = (cpuSeconds(server.pid!) - cpu0) / ((Date.now() - wall0) / 1000);

    const list: number[] = [];
    let rows = 0;
    for (let i = 0; i < 100; i++) {
      list.push(
        await timed(async () => {
          const all = ((await call('ListFlowStatus', {})) as { flows: Array<{ rows_total: string }> }).flows;
          rows = all.reduce((a, f) => a + Number(f.rows_total), 0);
        }),
      );
    }
    const get: number[] = [];
    for (let i = 0; i < 100; i++) get.push(await timed(() => call('GetFlowStatus', { flow_id: `f${String((i * 37) % n).padStart(4, '0')}` })));
    const page: number[] = [];
    for (let i = 0; i < 50; i++) page.push(await timed(async () => (await fetch(`${http}/api/flows`)).json()));
    const metrics: number[] = [];
    for (let i = 0; i < 50; i++) metrics.push(await timed(async () => (await fetch(`${http}/metrics`)).text()));

    process.stdout.write(`\nOperations view, ${n} idle streaming flows (${rows} rows counted); machine shared with other work\n\n`);
    printTable(
      ['call', 'n', 'p50 ms', 'p99 ms', 'max ms'],
      [row('ListFlowStatus', list), row('GetFlowStatus', get), row('GET /api/flows', page), row('GET /metrics', metrics)],
    );
    process.stdout.write(
      `\nserver CPU with every flow idle: ${fmt(idleCpu * 100, 1)}% of one core over ${idleSeconds} s (load average ${fmt((await import('node:os')).loadavg()[0]!, 1)})\n`,
    );
  } finally {
    server.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 3000));
    if (server.exitCode === null) server.kill('SIGKILL');
    sink.close();
    await src.end().catch(() => undefined);
    await admin.end().catch(() => undefined);
    await cluster.stop();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
