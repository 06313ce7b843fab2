/**
 * gRPC API latency through the real server (`dist/src/cli/server.js`, so `npm run build` first)
 * and a grpc-js client on a private PostgreSQL: CreateFlow and GetFlow p50/p99 one call at a time,
 * GetFlow throughput with calls in flight, and ListFlows over N flows (one page of 1,000, and
 * paging by 100).
 *
 *   npm run build && npx tsx bench/api.ts [--flows 1000] [--concurrency 16]
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { credentials, loadPackageDefinition, Metadata, type Client, type ServiceError } from '@grpc/grpc-js';
import { loadApiProtos } from '../src/api/protos';
import { arg, fmt, percentile, printTable, startBenchCluster } from './support';

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

function flow(i: number): Record<string, unknown> {
  const id = `bench-${String(i).padStart(5, '0')}`;
  return {
    id,
    name: `Bench flow ${i}`,
    source: {
      name: 'app',
      type: 'postgres',
      options: {
        dsn: 'postgres://app:secret@db.internal:5432/app',
        slot: `slot_${i}`,
        publication: 'pub',
        publication_tables: 'public.orders,public.items',
        batch_size: '500',
      },
    },
    destinations: [{ name: 'warehouse', type: 'duckdb', options: { dsn: `./data/w${i}.duckdb`, write_mode: 'target' } }],
    parallelism: 1,
  };
}

async function timed<T>(fn: () => Promise<T>): Promise<number> {
  const t = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t) / 1e6;
}

function stats(name: string, ms: number[]): string[] {
  const s = [...ms].sort((a, b) => a - b);
  return [name, String(s.length), fmt(percentile(s, 50), 2), fmt(percentile(s, 99), 2), fmt(s[s.length - 1]!, 2)];
}

async function main(): Promise<void> {
  const n = Number(arg('flows', '1000'));
  const concurrency = Number(arg('concurrency', '16'));
  const bench = await startBenchCluster();
  const dsn = await bench.createDatabase('bench_api');
  const server = spawn(process.execPath, [join(__dirname, '..', 'dist', 'src', 'cli', 'server.js')], {
    env: { ...process.env, DUCTSTREAM_POSTGRES_DSN: dsn, DUCTSTREAM_GRPC_LISTEN: '127.0.0.1:0', DBOS__VMID: 'bench-api' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const serverExited = new Promise((r) => server.on('exit', r));
  let stderr = '';
  try {
    const address = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`server did not start in 60 s:\n${stderr}`)), 60_000);
      server.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
        const m = /serving gRPC on (\S+)/.exec(stderr);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      });
      server.on('exit', () => reject(new Error(`server exited:\n${stderr}`)));
    });
    const call = client(address);
    for (let i = 0; i < 20; i++) await call('GetFlow', { flow_id: 'warm-up' }).catch(() => undefined);

    const create: number[] = [];
    for (let i = 0; i < n; i++) create.push(await timed(() => call('CreateFlow', { flow: flow(i) })));
    const get: number[] = [];
    for (let i = 0; i < n; i++) get.push(await timed(() => call('GetFlow', { flow_id: `bench-${String((i * 7919) % n).padStart(5, '0')}` })));

    const listAll: number[] = [];
    let count = 0;
    for (let i = 0; i < 20; i++) {
      listAll.push(
        await timed(async () => {
          count = ((await call('ListFlows', { page_size: 1000 })) as { flows: unknown[] }).flows.length;
        }),
      );
    }
    const paged: number[] = [];
    for (let i = 0; i < 10; i++) {
      paged.push(
        await timed(async () => {
          let token = '';
          do token = ((await call('ListFlows', { page_size: 100, page_token: token })) as { next_page_token: string }).next_page_token;
          while (token);
        }),
      );
    }

    const total = 4000;
    let next = 0;
    const started = process.hrtime.bigint();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < total) {
          const i = next++;
          await call('GetFlow', { flow_id: `bench-${String(i % n).padStart(5, '0')}` });
        }
      }),
    );
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;

    process.stdout.write(`\ngRPC API, ${n} flows (ListFlows returned ${count} in one page)\n\n`);
    printTable(
      ['call', 'n', 'p50 ms', 'p99 ms', 'max ms'],
      [
        stats('CreateFlow', create),
        stats('GetFlow', get),
        stats(`ListFlows (page_size 1000, ${n} flows)`, listAll),
        stats(`ListFlows (all ${n}, pages of 100)`, paged),
      ],
    );
    process.stdout.write(`\nGetFlow with ${concurrency} calls in flight: ${fmt(total / seconds)} calls/s\n`);
  } finally {
    if (server.exitCode === null) server.kill('SIGTERM');
    await serverExited;
    await bench.stop();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
