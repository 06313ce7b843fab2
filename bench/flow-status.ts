/**
 * The operations view with many flows: one server (`dist/src/cli/server.js`, so `npm run build`
 * first) running N streaming flows (small tables, one each, into a local HTTP sink) on a private
 * PostgreSQL. Measures, one call at a time, ListFlowStatus and GetFlowStatus, the status page's
 * /api/flows, /metrics and /healthz (a floor: what any request waits for the busy process), the
 * page itself in headless Chromium (first draw of N rows, then each refresh), and the server's CPU
 * while every flow is idle; then pauses every flow and measures ListFlowStatus, /healthz and the
 * CPU again (the status path without N runs' steps around it).
 *
 *   npm run build && npx tsx bench/flow-status.ts [--flows 200] [--idle-seconds 60] [--separate-state]
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { loadavg } from 'node:os';
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

/**
 * The status page in headless Chromium (`CHROMIUM`, default /usr/bin/chromium; skipped when absent):
 * ms from navigation until all `n` rows are drawn, and ms of each refresh as the page does it
 * (fetch /api/flows and redraw the table), measured in the page.
 */
async function measurePage(http: string, n: number): Promise<{ first: number; refresh: number[] } | null> {
  const executablePath = process.env.CHROMIUM ?? '/usr/bin/chromium';
  if (!existsSync(executablePath)) return null;
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath, args: ['--no-sandbox'] });
  try {
    const page = await browser.newPage();
    const t0 = Date.now();
    await page.goto(`${http}/`);
    await page
      .locator('tr[data-flow]')
      .nth(n - 1)
      .waitFor({ timeout: 60_000 });
    const first = Date.now() - t0;
    const refresh: number[] = [];
    for (let i = 0; i < 30; i++) {
      refresh.push(
        await page.evaluate(async () => {
          const t = performance.now();
          await (globalThis as unknown as { renderList: () => Promise<void> }).renderList();
          return performance.now() - t;
        }),
      );
    }
    return { first, refresh };
  } finally {
    await browser.close();
  }
}

/** CPU seconds of a PostgreSQL cluster: the postmaster, its reaped children and its live ones (Linux). */
function clusterCpuSeconds(dataDir: string): number {
  const pid = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  const fields = (p: number | string) => {
    const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  };
  const own = fields(pid);
  let ticks = Number(own[11]) + Number(own[12]) + Number(own[13]) + Number(own[14]);
  for (const p of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const f = fields(p);
      if (Number(f[1]) === pid) ticks += Number(f[11]) + Number(f[12]);
    } catch {
      // exited meanwhile
    }
  }
  return ticks / 100;
}

async function main(): Promise<void> {
  const n = Number(arg('flows', '200'));
  const idleSeconds = Number(arg('idle-seconds', '60'));
  const loadBefore = loadavg()[0]!;
  const cluster = await startLocalCluster({
    settings: { max_replication_slots: String(n + 16), max_wal_senders: String(n + 16), max_connections: String(3 * n + 100) },
  });
  // --separate-state: the state and DBOS databases on a second server, so the sources' walsenders
  // do not decode the WAL of every DBOS step (logical decoding reads all of a server's WAL).
  const separate = process.argv.includes('--separate-state');
  const stateCluster = separate ? await startLocalCluster() : cluster;
  const admin = new PgClient(cluster.dsn());
  await admin.connect();
  await admin.query('CREATE DATABASE bench_status_src');
  const stateAdmin = new PgClient(stateCluster.dsn());
  await stateAdmin.connect();
  await stateAdmin.query('CREATE DATABASE bench_status_state');
  await stateAdmin.end();
  const src = new PgClient(cluster.dsn('bench_status_src'));
  await src.connect();
  for (let i = 0; i < n; i++) await src.query(`CREATE TABLE t${i} (id bigint PRIMARY KEY, v text)`);
  const sink = createServer((req, res) => req.resume().on('end', () => res.end('ok')));
  await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r));
  const sinkUrl = `http://127.0.0.1:${(sink.address() as { port: number }).port}/`;

  const nodeArgs = (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const server = spawn(process.execPath, [...nodeArgs, join(__dirname, '..', 'dist', 'src', 'cli', 'server.js')], {
    env: {
      ...process.env,
      DUCTSTREAM_POSTGRES_DSN: stateCluster.dsn('bench_status_state'),
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

    const pgCpu = () => clusterCpuSeconds(cluster.dataDir) + (separate ? clusterCpuSeconds(stateCluster.dataDir) : 0);
    // DBOS steps recorded while every flow is idle, by step name (the system database's own records).
    const sys = new PgClient(stateCluster.dsn('bench_status_state_dbos_sys'));
    await sys.connect();
    const stepCounts = async () =>
      new Map(
        (await sys.query<{ name: string; n: string }>('SELECT function_name AS name, count(*) AS n FROM dbos.operation_outputs GROUP BY 1')).rows.map(
          (r) => [r.name, Number(r.n)] as const,
        ),
      );
    const steps0 = await stepCounts();
    const cpu0 = cpuSeconds(server.pid!);
    const pg0 = pgCpu();
    const wall0 = Date.now();
    await new Promise((r) => setTimeout(r, idleSeconds * 1000));
    const idleWall = (Date.now() - wall0) / 1000;
    const steps1 = await stepCounts();
    await sys.end();
    const idleSteps = [...steps1]
      .map(([name, v]) => [name, (v - (steps0.get(name) ?? 0)) / idleWall] as const)
      .filter(([, v]) => v > 0)
      .sort((a, b) => b[1] - a[1]);
    const idleCpu = (cpuSeconds(server.pid!) - cpu0) / idleWall;
    const idlePgCpu = (pgCpu() - pg0) / idleWall;
    const idleLoad = loadavg()[0]!;

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
    const health: number[] = [];
    for (let i = 0; i < 100; i++) health.push(await timed(async () => (await fetch(`${http}/healthz`)).text()));
    const metrics: number[] = [];
    for (let i = 0; i < 50; i++) metrics.push(await timed(async () => (await fetch(`${http}/metrics`)).text()));

    const pageTimes = await measurePage(http, n);

    // The same calls with every flow paused: what the status path costs without 200 runs' steps around it.
    for (let i = 0; i < n; i++) await call('PauseFlow', { flow_id: `f${String(i).padStart(4, '0')}` });
    const p0 = Date.now();
    for (;;) {
      const all = ((await call('ListFlowStatus', {})) as { flows: Array<{ active_run_id: string }> }).flows;
      if (all.every((f) => f.active_run_id === '') || Date.now() - p0 > 120_000) break;
      await new Promise((r) => setTimeout(r, 2000));
    }
    await new Promise((r) => setTimeout(r, 5000));
    const pausedCpu0 = cpuSeconds(server.pid!);
    const pausedPg0 = pgCpu();
    const pausedWall0 = Date.now();
    await new Promise((r) => setTimeout(r, 20_000));
    const pausedWall = (Date.now() - pausedWall0) / 1000;
    const pausedCpu = (cpuSeconds(server.pid!) - pausedCpu0) / pausedWall;
    const pausedPgCpu = (pgCpu() - pausedPg0) / pausedWall;
    const pausedList: number[] = [];
    for (let i = 0; i < 100; i++) pausedList.push(await timed(() => call('ListFlowStatus', {})));
    const pausedHealth: number[] = [];
    for (let i = 0; i < 100; i++) pausedHealth.push(await timed(async () => (await fetch(`${http}/healthz`)).text()));

    process.stdout.write(`\nOperations view, ${n} idle streaming flows (${rows} rows counted); machine shared with other work\n\n`);
    printTable(
      ['call', 'n', 'p50 ms', 'p99 ms', 'max ms'],
      [
        row('ListFlowStatus', list),
        row('GetFlowStatus', get),
        row('GET /api/flows', page),
        row('GET /metrics', metrics),
        row('GET /healthz', health),
        ...(pageTimes ? [row('page: first draw', [pageTimes.first]), row('page: refresh', pageTimes.refresh)] : []),
        row('ListFlowStatus, all paused', pausedList),
        row('GET /healthz, all paused', pausedHealth),
      ],
    );
    const pct = (v: number) => `${fmt(v * 100, 1)}%`;
    process.stdout.write(
      `\nstate and DBOS databases: ${separate ? 'on a second PostgreSQL server' : 'on the source server'}\n` +
        `load average before the bench started: ${fmt(loadBefore, 1)}\n` +
        `every flow idle, over ${idleSeconds} s: server ${pct(idleCpu)} of one core, PostgreSQL ${pct(idlePgCpu)} (load average then ${fmt(idleLoad, 1)})\n` +
        `DBOS steps/s while idle: ${fmt(
          idleSteps.reduce((a, [, v]) => a + v, 0),
          1,
        )} (${idleSteps.map(([k, v]) => `${k} ${fmt(v, 1)}`).join(', ')})\n` +
        `every flow paused, over 20 s: server ${pct(pausedCpu)}, PostgreSQL ${pct(pausedPgCpu)} (load average now ${fmt(loadavg()[0]!, 1)})\n`,
    );
  } finally {
    // A graceful stop ends 200 runs after their current batch: give it time (a --cpu-prof is written at exit).
    const exited = new Promise((r) => server.once('exit', r));
    server.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 60_000))]);
    if (server.exitCode === null && server.signalCode === null) server.kill('SIGKILL');
    sink.close();
    await src.end().catch(() => undefined);
    await admin.end().catch(() => undefined);
    await cluster.stop();
    if (separate) await stateCluster.stop();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
