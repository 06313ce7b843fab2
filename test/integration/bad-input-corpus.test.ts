/**
 * A table-driven corpus of bad input (issue 10, item 16) through the real entry points: every
 * malformed flow of test/support/badInput/flowCases.ts through CreateFlow of one `./bin/ductstream`
 * and through `./bin/ductstream-worker -flow-file`, every bad flag and environment through the
 * worker and `./bin/ductstream-admin`, and every bad request through FlowService/StreamService.
 * Each case asserts the field (or flag) named, exit code 2 or the gRPC status, that no secret of
 * the corpus appears in any output, and that nothing was created: no flow stored, no slot, no
 * publication, no DuckDB file, no table in the databases the worker and admin CLI were pointed at.
 * The processes run a few at a time; one API server serves every API case.
 */
import { status, type ServiceError } from '@grpc/grpc-js';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runAdmin } from '../support/admin';
import { flowClient, startApiServer, type ApiServerProcess, type FlowClient } from '../support/api';
import { corpusFlow, CORPUS_SECRETS, FLOW_CASES, type FlowCase, type FlowJson } from '../support/badInput/flowCases';
import { ADMIN_CASES, API_REQUEST_CASES, WORKER_FLAG_CASES, type CliCase } from '../support/badInput/requestCases';
import { clusterPort, createTestDatabase, type TestDatabase } from '../support/pg';
import { runWorker, type ProcessResult } from '../support/worker';

const CONCURRENCY = 4;

let source: TestDatabase;
let apiState: TestDatabase;
let workerState: TestDatabase;
let streamDb: TestDatabase;
let dir: string;
let server: ApiServerProcess;
const clients: Record<string, FlowClient> = {};

const caseId = (prefix: string, i: number) => `corpus_${prefix}${i}`;

function flowOf(c: FlowCase, id: string): unknown {
  if (c.whole !== undefined) return c.whole;
  const f: FlowJson = corpusFlow(id, `127.0.0.1:${clusterPort()}`, source.name, dir);
  c.patch?.(f, dir);
  return f;
}

function expectNoSecret(text: string): void {
  for (const s of CORPUS_SECRETS) expect(text).not.toContain(s);
}

const lastLine = (r: ProcessResult) => r.stderr.trim().split('\n').pop() ?? '';

/** Runs `fn` over `items`, at most CONCURRENCY at once. */
async function pool<T, R>(items: T[], fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      for (let i = next++; i < items.length; i = next++) out[i] = await fn(items[i]!, i);
    }),
  );
  return out;
}

beforeAll(async () => {
  [source, apiState, workerState, streamDb] = await Promise.all([
    createTestDatabase('corpus_src'),
    createTestDatabase('corpus_api'),
    createTestDatabase('corpus_wrk'),
    createTestDatabase('corpus_str'),
  ]);
  await source.query('CREATE TABLE public.t (id int PRIMARY KEY)');
  dir = mkdtempSync(join(tmpdir(), 'ductstream-corpus-'));
  server = await startApiServer({ DUCTSTREAM_POSTGRES_DSN: apiState.dsn, DUCTSTREAM_DBOS_ENABLED: 'false', DUCTSTREAM_DATA_DIR: dir });
  for (const s of ['FlowService', 'StreamService']) clients[s] = flowClient(server.address, s);
});

afterAll(async () => {
  Object.values(clients).forEach((c) => c.close());
  await server?.stop();
  await Promise.all([source, apiState, workerState, streamDb].map((d) => d?.drop()));
  rmSync(dir, { recursive: true, force: true });
});

describe('malformed flows through CreateFlow', () => {
  const cases = FLOW_CASES.map((c, i) => [c.name, c, i] as const).filter(([, c]) => c.via !== 'worker');

  it.each(cases)('%s → INVALID_ARGUMENT naming the field', async (_name, c, i) => {
    const flow = flowOf(c, caseId('api', i));
    const err = await clients.FlowService!.fail('CreateFlow', { flow });
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    expect(err.metadata.get('ductstream-field')).toEqual([c.field]);
    expect(err.details.startsWith(`${c.field}: `)).toBe(true);
    expectNoSecret(err.details);
  });

  it('stored none of them, and left no file in the data dir', async () => {
    const rows = await apiState.query<{ id: string }>('SELECT id FROM ductstream.flows');
    expect(rows.filter((r) => r.id.startsWith('corpus_api'))).toEqual([]);
    expect(readdirSync(dir).filter((f) => f.endsWith('.duckdb'))).toEqual([]);
    expect(existsSync('/var/tmp/corpus-escape.duckdb')).toBe(false);
    expectNoSecret(server.proc.output().stderr);
  });
});

describe('malformed flow files through the worker', () => {
  const cases = FLOW_CASES.map((c, i) => [c.name, c, i] as const).filter(([, c]) => c.via !== 'api');
  let results: ProcessResult[] = [];

  beforeAll(async () => {
    results = await pool(cases, async ([, c, i]) => {
      const path = join(dir, `worker-case-${i}.json`);
      writeFileSync(path, JSON.stringify(flowOf(c, caseId('wrk', i))));
      return runWorker(['-flow-file', path], { DUCTSTREAM_POSTGRES_DSN: workerState.dsn });
    });
  }, 300_000);

  it.each(cases.map(([name, c], k) => [name, c, k] as const))('%s → exit 2 naming the field', (_name, c, k) => {
    const r = results[k]!;
    expect({ code: r.code, line: lastLine(r) }).toEqual({
      code: 2,
      line: expect.stringMatching(new RegExp(`^ductstream-worker: ${escape(c.field)}: `)) as string,
    });
    expectNoSecret(r.stderr + r.stdout);
  });

  it('created nothing: no state tables, no slot, no publication, no DuckDB file', async () => {
    expect(await workerState.query(`SELECT table_name FROM information_schema.tables WHERE table_schema NOT IN ('pg_catalog', 'information_schema')`)).toEqual(
      [],
    );
    expect(await source.query(`SELECT slot_name FROM pg_replication_slots WHERE slot_name LIKE 'corpus\\_%'`)).toEqual([]);
    expect(await source.query('SELECT pubname FROM pg_publication')).toEqual([]);
    expect(readdirSync(dir).filter((f) => f.endsWith('.duckdb'))).toEqual([]);
  });
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function cliCases(prog: string, cases: CliCase[], run: (args: string[], env: NodeJS.ProcessEnv) => Promise<ProcessResult>, env: () => NodeJS.ProcessEnv) {
  const rows = cases.map((c) => [`${c.args.join(' ')}${c.env ? ` with ${JSON.stringify(c.env)}` : ''}`, c] as const);
  let results: ProcessResult[] = [];
  beforeAll(async () => {
    results = await pool(rows, ([, c]) =>
      run(
        c.args.map((a) => a.replace('{DSN}', streamDb.dsn)),
        { ...env(), ...c.env },
      ),
    );
  }, 300_000);
  it.each(rows.map(([name, c], k) => [name, c, k] as const))('%s → exit 2 naming the flag', (_name, c, k) => {
    const r = results[k]!;
    const line = lastLine(r);
    expect({ code: r.code, prog: line.slice(0, prog.length) }).toEqual({ code: c.exit ?? 2, prog });
    expect(line.slice(line.indexOf(': ') + 2)).toMatch(c.names);
    expectNoSecret(r.stderr + r.stdout);
  });
}

describe('bad flags and environment through the worker', () => {
  cliCases(
    'ductstream-worker',
    WORKER_FLAG_CASES,
    (args, env) => runWorker(args, env),
    () => ({ DUCTSTREAM_POSTGRES_DSN: workerState.dsn }),
  );
});

describe('bad flags and environment through the admin CLI', () => {
  cliCases(
    'ductstream-admin',
    ADMIN_CASES,
    (args, env) => runAdmin(args, env),
    () => ({ DUCTSTREAM_POSTGRES_DSN: workerState.dsn }),
  );

  it('created no stream table or consumer group in the database given with -dsn', async () => {
    expect(await streamDb.query(`SELECT table_name FROM information_schema.tables WHERE table_schema NOT IN ('pg_catalog', 'information_schema')`)).toEqual([]);
  });
});

describe('bad requests through the API', () => {
  beforeAll(async () => {
    await clients.FlowService!.call('CreateFlow', { flow: corpusFlow('corpus_existing', `127.0.0.1:${clusterPort()}`, source.name, dir) });
  });

  it.each(API_REQUEST_CASES.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const err: ServiceError = await clients[c.service]!.fail(c.method, c.request);
    expect({ code: err.code, field: err.metadata.get('ductstream-field')[0] }).toEqual({ code: c.code, field: c.field });
    expectNoSecret(err.details);
  });

  it('left the stored flow as it was', async () => {
    const rows = await apiState.query<{ id: string; state: string }>('SELECT id, state FROM ductstream.flows');
    expect(rows).toEqual([{ id: 'corpus_existing', state: 'created' }]);
  });
});

describe('secrets through the API (items 13 and 14)', () => {
  const hook = `https://hooks.slack.com/services/T0A1B2C3D/B0E4F5G6H/${CORPUS_SECRETS[4]!}`;
  const flow = (id: string) => ({
    ...corpusFlow(id, `127.0.0.1:${clusterPort()}`, source.name, dir),
    destinations: [
      { name: 'bus', type: 'kafka', options: { brokers: '127.0.0.1:9092', sasl_mechanism: 'plain', sasl_username: 'u', sasl_password: CORPUS_SECRETS[1]! } },
      { name: 'hook', type: 'http', options: { url: hook, headers: `Authorization:Bearer ${CORPUS_SECRETS[2]!}` } },
    ],
  });
  const stored = async (id: string) =>
    (await apiState.query<{ definition: unknown }>(`SELECT to_jsonb(f) AS definition FROM ductstream.flows f WHERE id = $1`, [id]))[0]?.definition;
  type Flow = { destinations: Array<{ options: Record<string, string> }> };

  it('returns webhook URLs and secrets masked, restores them for the same hosts, refuses them for another host', async () => {
    const api = clients.FlowService!;
    const created = await api.call<Flow>('CreateFlow', { flow: flow('corpus_secrets') });
    expectNoSecret(JSON.stringify(created));
    expect(created.destinations[1]!.options.url).toBe('https://hooks.slack.com/services/T0A1B2C3D/B0E4F5G6H/****');
    const before = JSON.stringify(await stored('corpus_secrets'));
    expect(before).toContain(CORPUS_SECRETS[1]!);

    const moved = JSON.parse(JSON.stringify(created)) as Flow;
    moved.destinations[0]!.options.brokers = 'attacker.example:9092';
    const err = await api.fail('UpdateFlow', { flow: moved });
    expect({ code: err.code, field: err.metadata.get('ductstream-field')[0] }).toEqual({
      code: status.INVALID_ARGUMENT,
      field: 'destinations[0].options.sasl_password',
    });
    const hookMoved = JSON.parse(JSON.stringify(created)) as Flow;
    hookMoved.destinations[1]!.options.url = 'https://attacker.example/in';
    const err2 = await api.fail('UpdateFlow', { flow: hookMoved });
    expect(err2.metadata.get('ductstream-field')[0]).toBe('destinations[1].options.headers');
    expect(JSON.stringify(await stored('corpus_secrets'))).toBe(before);

    const same = JSON.parse(JSON.stringify(created)) as Flow;
    same.destinations[0]!.options.topic = 'orders';
    await api.call('UpdateFlow', { flow: same });
    const after = JSON.stringify(await stored('corpus_secrets'));
    for (const s of [CORPUS_SECRETS[1]!, CORPUS_SECRETS[2]!, CORPUS_SECRETS[4]!]) expect(after).toContain(s);
    expect(after).toContain('"topic":"orders"');
    await api.call('DeleteFlow', { flow_id: 'corpus_secrets' });
  });
});
