/**
 * The gRPC API through a real `./bin/ductstream` process and real clients (grpc-js, and buf curl
 * through examples/grpc/create_flow.sh and server reflection): flow CRUD from every example file,
 * masking, bad input with field-named INVALID_ARGUMENT, NOT_FOUND / ALREADY_EXISTS /
 * FAILED_PRECONDITION, wire-format enforcement, and start-up errors (exit 2).
 */
import { status } from '@grpc/grpc-js';
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { flowClient, startApiServer, SERVER_BIN, type ApiServerProcess, type FlowClient } from '../support/api';
import { clusterPort, createTestDatabase, type TestDatabase } from '../support/pg';
import { REPO_ROOT, spawnBin } from '../support/worker';

const run = promisify(execFile);
const EXAMPLES = join(REPO_ROOT, 'examples', 'flows');
const STATE_SECRET = 'state-pw-7f3a';
const SOURCE_SECRET = 'src-pw-91cc';

let state: TestDatabase;
let stateDsn: string;
let server: ApiServerProcess;
let api: FlowClient;

type FlowMsg = {
  id: string;
  name: string;
  state: string;
  parallelism: number;
  wire_format: string;
  source: { options: Record<string, string> };
  destinations: Array<{ name: string; type: string; options: Record<string, string> }>;
};

function exampleFiles(): string[] {
  return readdirSync(EXAMPLES)
    .filter((f) => f.endsWith('.json'))
    .sort();
}

function example(file: string): Record<string, unknown> {
  return JSON.parse(readFileSync(join(EXAMPLES, file), 'utf8')) as Record<string, unknown>;
}

/** A valid flow whose source DSN carries a password. */
function flowBody(id: string, patch: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id,
    source: {
      name: 'pg',
      type: 'postgres',
      options: { dsn: `postgres://app:${SOURCE_SECRET}@127.0.0.1:5432/app`, slot: `${id.replace(/\W/g, '_')}_slot`, publication: 'pub' },
    },
    destinations: [{ name: 'wh', type: 'duckdb', options: { dsn: ':memory:' } }],
    ...patch,
  };
}

beforeAll(async () => {
  state = await createTestDatabase('api_flows');
  stateDsn = `postgres://postgres:${STATE_SECRET}@127.0.0.1:${clusterPort()}/${state.name}`;
  server = await startApiServer({ DUCTSTREAM_POSTGRES_DSN: stateDsn, DBOS__VMID: 'api-flows-test', DUCTSTREAM_LOG_LEVEL: 'debug' });
  api = flowClient(server.address);
});

afterAll(async () => {
  api?.close();
  await server?.stop();
  await state.drop();
});

describe('reflection and health', () => {
  it('lists every FlowService method and the health service through reflection (no local protos)', async () => {
    const { stdout } = await run(join(REPO_ROOT, 'node_modules', '.bin', 'buf'), [
      'curl',
      '--protocol',
      'grpc',
      '--http2-prior-knowledge',
      '--list-methods',
      `http://${server.address}`,
    ]);
    const methods = stdout.trim().split('\n');
    for (const m of [
      'CreateFlow',
      'GetFlow',
      'ListFlows',
      'UpdateFlow',
      'DeleteFlow',
      'StartFlow',
      'StopFlow',
      'PauseFlow',
      'ResumeFlow',
      'RunFlowOnce',
      'ListFlowRuns',
      'GetFlowRun',
    ]) {
      expect(methods).toContain(`ductstream.v1.FlowService/${m}`);
    }
    expect(methods).toContain('grpc.health.v1.Health/Check');
  });

  it('answers the standard health check with SERVING, and GetFlow with snake_case JSON via reflection', async () => {
    const buf = join(REPO_ROOT, 'node_modules', '.bin', 'buf');
    const { stdout } = await run(buf, ['curl', '--protocol', 'grpc', '--http2-prior-knowledge', `http://${server.address}/grpc.health.v1.Health/Check`]);
    expect(JSON.parse(stdout)).toEqual({ status: 'SERVING' });
    await api.call('CreateFlow', { flow: flowBody('reflected', { wire_format: 'avro' }) });
    const got = await run(buf, [
      'curl',
      '--protocol',
      'grpc',
      '--http2-prior-knowledge',
      '-d',
      '{"flow_id":"reflected"}',
      `http://${server.address}/ductstream.v1.FlowService/GetFlow`,
    ]);
    expect(JSON.parse(got.stdout)).toMatchObject({ id: 'reflected', wire_format: 'avro', state: 'created' });
    await api.call('DeleteFlow', { flow_id: 'reflected' });
  });
});

describe('flows from the examples', () => {
  it('examples/grpc/create_flow.sh creates examples/flows/duckdb.json with buf curl and the local protos', async () => {
    const { stdout } = await run(join(REPO_ROOT, 'examples', 'grpc', 'create_flow.sh'), [join(EXAMPLES, 'duckdb.json')], {
      env: { ...process.env, DUCTSTREAM_GRPC_ADDR: server.address, PATH: '/usr/bin:/bin' },
    });
    const created = JSON.parse(stdout) as FlowMsg;
    const file = example('duckdb.json') as unknown as FlowMsg;
    expect(created.id).toBe(file.id);
    expect(created.state).toBe('created');
    expect(created.destinations).toEqual(file.destinations);
    expect(created.source.options.dsn).not.toContain('change-me');
    expect(created.source.options.dsn).toContain(':****@');
  });

  it('creates a flow from every other example file through grpc-js, each as it is', async () => {
    const files = exampleFiles().filter((f) => f !== 'duckdb.json');
    expect(files.length).toBeGreaterThanOrEqual(1);
    for (const f of files) {
      const body = example(f);
      const created = await api.call<FlowMsg>('CreateFlow', { flow: body });
      expect(created).toMatchObject({ id: body.id, state: 'created', parallelism: (body.parallelism as number | undefined) ?? 1 });
      expect(created.destinations.map((d) => d.type)).toEqual((body.destinations as Array<{ type: string }>).map((d) => d.type));
      const got = await api.call<FlowMsg>('GetFlow', { flow_id: body.id });
      expect(got).toEqual(created);
      expect(JSON.stringify(got)).not.toMatch(/change-me/);
    }
    const kinds = new Set(exampleFiles().flatMap((f) => (example(f).destinations as Array<{ type: string }>).map((d) => d.type)));
    // One example per registered destination kind.
    const { destinationKinds } = await import('../../src/destinations');
    expect([...kinds].sort()).toEqual(expect.arrayContaining(destinationKinds()));
  });
});

describe('get, list, update, delete', () => {
  it('lists flows in pages by id with secrets masked', async () => {
    for (let i = 0; i < 5; i++) await api.call('CreateFlow', { flow: flowBody(`page-${i}`) });
    const seen: string[] = [];
    let token = '';
    for (let pages = 0; pages < 20; pages++) {
      const page = await api.call<{ flows: FlowMsg[]; next_page_token: string }>('ListFlows', { page_size: 2, page_token: token });
      expect(page.flows.length).toBeLessThanOrEqual(2);
      seen.push(...page.flows.map((f) => f.id));
      for (const f of page.flows) expect(JSON.stringify(f)).not.toMatch(new RegExp(`${SOURCE_SECRET}|change-me`));
      token = page.next_page_token;
      if (!token) break;
    }
    expect(seen).toEqual([...seen].sort());
    expect(seen).toEqual(expect.arrayContaining(['page-0', 'page-1', 'page-2', 'page-3', 'page-4']));
    expect(new Set(seen).size).toBe(seen.length);
  });

  it('UpdateFlow replaces the definition, keeps state and checkpoint, and keeps a secret sent back masked', async () => {
    await api.call('CreateFlow', { flow: flowBody('upd') });
    await api.call('StopFlow', { flow_id: 'upd' });
    await state.query(`INSERT INTO ductstream.checkpoints (flow_id, slot, lsn) VALUES ('upd', 'upd_slot', '0/16B6C50')`);
    const current = await api.call<FlowMsg>('GetFlow', { flow_id: 'upd' });
    expect(current.source.options.dsn).toBe('postgres://app:****@127.0.0.1:5432/app');
    const next = {
      ...current,
      name: 'renamed',
      parallelism: 3,
      state: 'running',
      destinations: [...current.destinations, { name: 'wh2', type: 'duckdb', options: { dsn: ':memory:', write_mode: 'append' } }],
    };
    const updated = await api.call<FlowMsg>('UpdateFlow', { flow: next });
    expect(updated).toMatchObject({ name: 'renamed', parallelism: 3, state: 'stopped' });
    expect(updated.destinations.map((d) => d.name)).toEqual(['wh', 'wh2']);
    const [row] = await state.query<{ state: string; dsn: string; parallelism: number }>(
      `SELECT state, source->'options'->>'dsn' AS dsn, parallelism FROM ductstream.flows WHERE id = 'upd'`,
    );
    expect(row).toEqual({ state: 'stopped', dsn: `postgres://app:${SOURCE_SECRET}@127.0.0.1:5432/app`, parallelism: 3 });
    const [ck] = await state.query<{ lsn: string }>(`SELECT lsn::text AS lsn FROM ductstream.checkpoints WHERE flow_id = 'upd'`);
    expect(ck!.lsn).toBe('0/16B6C50');
    // A new secret replaces the stored one.
    await api.call('UpdateFlow', {
      flow: { ...next, source: { ...next.source, options: { ...next.source.options, dsn: 'postgres://app:newpw@127.0.0.1:5432/app' } } },
    });
    const [row2] = await state.query<{ dsn: string }>(`SELECT source->'options'->>'dsn' AS dsn FROM ductstream.flows WHERE id = 'upd'`);
    expect(row2!.dsn).toBe('postgres://app:newpw@127.0.0.1:5432/app');
  });

  it('DeleteFlow removes the flow; the next call is NOT_FOUND', async () => {
    await api.call('CreateFlow', { flow: flowBody('gone') });
    expect(await api.call('DeleteFlow', { flow_id: 'gone' })).toEqual({ slot_dropped: false, publication_dropped: false });
    expect((await api.fail('GetFlow', { flow_id: 'gone' })).code).toBe(status.NOT_FOUND);
    expect((await api.fail('DeleteFlow', { flow_id: 'gone' })).code).toBe(status.NOT_FOUND);
  });
});

describe('bad input', () => {
  const cases: Array<[string, string, Record<string, unknown>, string]> = [
    ['no flow', 'CreateFlow', {}, 'flow'],
    ['missing id', 'CreateFlow', { flow: flowBody('') }, 'id'],
    ['an invalid id', 'CreateFlow', { flow: flowBody('has space') }, 'id'],
    ['missing source', 'CreateFlow', { flow: { ...flowBody('bad-src'), source: null } }, 'source'],
    ['a source that is not postgres', 'CreateFlow', { flow: flowBody('bad-src-type', { source: { type: 'mysql', options: {} } }) }, 'source.type'],
    [
      'a missing source option',
      'CreateFlow',
      { flow: flowBody('no-slot', { source: { type: 'postgres', options: { dsn: 'postgres://h/db', publication: 'p' } } }) },
      'source.options.slot',
    ],
    [
      'an unknown source option',
      'CreateFlow',
      { flow: flowBody('unknown-opt', { source: { type: 'postgres', options: { dsn: 'postgres://h/db', slot: 's', publication: 'p', bogus: '1' } } }) },
      'source.options.bogus',
    ],
    [
      'batch_size=abc',
      'CreateFlow',
      { flow: flowBody('bad-batch', { source: { type: 'postgres', options: { dsn: 'postgres://h/db', slot: 's', publication: 'p', batch_size: 'abc' } } }) },
      'source.options.batch_size',
    ],
    ['negative parallelism', 'CreateFlow', { flow: flowBody('neg-par', { parallelism: -1 }) }, 'parallelism'],
    ['an unknown wire format', 'CreateFlow', { flow: flowBody('bad-wf', { wire_format: 'xml' }) }, 'wire_format'],
    ['no destinations', 'CreateFlow', { flow: flowBody('no-dest', { destinations: [] }) }, 'destinations'],
    [
      'an unknown destination type',
      'CreateFlow',
      { flow: flowBody('bad-type', { destinations: [{ type: 'carrier-pigeon', options: {} }] }) },
      'destinations[0].type',
    ],
    [
      'a bad destination option value',
      'CreateFlow',
      { flow: flowBody('bad-mode', { destinations: [{ type: 'duckdb', options: { dsn: ':memory:', write_mode: 'sideways' } }] }) },
      'destinations[0].options.write_mode',
    ],
    [
      'an unknown destination format',
      'CreateFlow',
      { flow: flowBody('bad-fmt', { destinations: [{ type: 'kafka', options: { brokers: 'localhost:9092', format: 'xml' } }] }) },
      'destinations[0].options.format',
    ],
    [
      'two destinations with one name',
      'CreateFlow',
      {
        flow: flowBody('dup-dest', {
          destinations: [
            { name: 'a', type: 'duckdb', options: { dsn: ':memory:' } },
            { name: 'a', type: 'duckdb', options: { dsn: ':memory:' } },
          ],
        }),
      },
      'destinations[1].name',
    ],
    [
      'UpdateFlow with batch_size=abc',
      'UpdateFlow',
      { flow: flowBody('page-0', { source: { type: 'postgres', options: { dsn: 'postgres://h/db', slot: 's', publication: 'p', batch_size: 'abc' } } }) },
      'source.options.batch_size',
    ],
    ['a negative page_size', 'ListFlows', { page_size: -1 }, 'page_size'],
    ['a page_size over 1000', 'ListFlows', { page_size: 1001 }, 'page_size'],
    ['a forged page_token', 'ListFlowRuns', { flow_id: 'page-0', page_token: 'not-a-token' }, 'page_token'],
    ['an empty flow_id', 'GetFlow', { flow_id: '' }, 'flow_id'],
    ['an empty run_id', 'GetFlowRun', { run_id: '' }, 'run_id'],
  ];

  it.each(cases)('%s → INVALID_ARGUMENT naming the field, nothing stored', async (_name, method, req, field) => {
    const before = await state.query<{ n: string; v: string }>('SELECT count(*)::text AS n, coalesce(sum(version), 0)::text AS v FROM ductstream.flows');
    const err = await api.fail(method, req);
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    expect(err.details.startsWith(`${field}:`)).toBe(true);
    expect(err.metadata.get('ductstream-field')).toEqual([field]);
    expect(err.details).not.toContain(SOURCE_SECRET);
    expect(await state.query('SELECT count(*)::text AS n, coalesce(sum(version), 0)::text AS v FROM ductstream.flows')).toEqual(before);
  });

  it('unknown ids are NOT_FOUND, a duplicate id ALREADY_EXISTS, a wrong state FAILED_PRECONDITION', async () => {
    for (const m of ['GetFlow', 'DeleteFlow', 'StartFlow', 'StopFlow', 'PauseFlow', 'ResumeFlow', 'RunFlowOnce', 'ListFlowRuns']) {
      const err = await api.fail(m, { flow_id: 'no-such-flow' });
      expect([m, err.code]).toEqual([m, status.NOT_FOUND]);
      expect(err.details).toContain('no-such-flow');
    }
    expect((await api.fail('UpdateFlow', { flow: flowBody('no-such-flow') })).code).toBe(status.NOT_FOUND);
    expect((await api.fail('GetFlowRun', { run_id: 'flowrun-no-such-flow-1' })).code).toBe(status.NOT_FOUND);
    const dup = await api.fail('CreateFlow', { flow: flowBody('page-1') });
    expect(dup.code).toBe(status.ALREADY_EXISTS);
    expect(dup.details).toContain('page-1');
    expect((await api.fail('PauseFlow', { flow_id: 'page-1' })).code).toBe(status.FAILED_PRECONDITION);
    expect((await api.fail('ResumeFlow', { flow_id: 'page-1' })).code).toBe(status.FAILED_PRECONDITION);
    await api.call('StopFlow', { flow_id: 'page-1' });
    const once = await api.fail('RunFlowOnce', { flow_id: 'page-1' });
    expect(once.code).toBe(status.FAILED_PRECONDITION);
    expect(once.details).toMatch(/state stopped/);
  });
});

describe('wire format enforcement and DBOS off', () => {
  it('rejects a destination or flow asking for another format than DUCTSTREAM_WIRE_FORMAT, naming it', async () => {
    const strict = await startApiServer({
      DUCTSTREAM_POSTGRES_DSN: stateDsn,
      DUCTSTREAM_WIRE_FORMAT: 'arrow',
      DUCTSTREAM_WIRE_ENFORCE: 'true',
      DUCTSTREAM_DBOS_ENABLED: 'false',
    });
    const c = flowClient(strict.address);
    try {
      const kafka = (options: Record<string, string>) => [{ name: 'bus', type: 'kafka', options: { brokers: 'localhost:9092', ...options } }];
      const byDest = await c.fail('CreateFlow', { flow: flowBody('enf-1', { destinations: kafka({ format: 'json' }) }) });
      expect(byDest.code).toBe(status.INVALID_ARGUMENT);
      expect(byDest.details).toMatch(/^destinations\[0\]\.options\.format:.*json.*arrow/);
      const byFlow = await c.fail('CreateFlow', { flow: flowBody('enf-2', { wire_format: 'avro', destinations: kafka({}) }) });
      expect(byFlow.code).toBe(status.INVALID_ARGUMENT);
      expect(byFlow.details).toMatch(/destinations\[0\]\.options\.format/);
      // Every example is valid under the usage guide's settings (arrow, enforced).
      for (const f of exampleFiles()) {
        const body = example(f);
        await c.call('CreateFlow', { flow: { ...body, id: `${String(body.id)}-strict` } });
      }
      const ok = await c.call<FlowMsg>('CreateFlow', { flow: flowBody('enf-3', { destinations: kafka({ format: 'arrow' }) }) });
      expect(ok.state).toBe('created');
      // Without DBOS this server changes states but runs nothing.
      expect((await c.call<FlowMsg>('StartFlow', { flow_id: 'enf-3' })).state).toBe('running');
      const noRuns = await c.fail('RunFlowOnce', { flow_id: 'enf-3' });
      expect(noRuns.code).toBe(status.FAILED_PRECONDITION);
      expect(noRuns.details).toContain('DUCTSTREAM_DBOS_ENABLED');
      await c.call('DeleteFlow', { flow_id: 'enf-3' });
    } finally {
      c.close();
      await strict.stop();
    }
  });
});

describe('start-up errors', () => {
  const cases: Array<[string, NodeJS.ProcessEnv, RegExp]> = [
    ['a bad listen address', { DUCTSTREAM_GRPC_LISTEN: 'eight-thousand' }, /DUCTSTREAM_GRPC_LISTEN/],
    ['a malformed cron', { DUCTSTREAM_DBOS_SCHEDULE: 'every ten seconds' }, /DUCTSTREAM_DBOS_SCHEDULE/],
    ['an impossible cron', { DUCTSTREAM_DBOS_SCHEDULE: '61 * * * * *' }, /DUCTSTREAM_DBOS_SCHEDULE.*61/],
    ['an unknown wire format', { DUCTSTREAM_WIRE_FORMAT: 'xml' }, /DUCTSTREAM_WIRE_FORMAT.*xml/],
    ['no DUCTSTREAM_POSTGRES_DSN', { DUCTSTREAM_POSTGRES_DSN: '' }, /DUCTSTREAM_POSTGRES_DSN is required/],
  ];

  it.each(cases)('%s → exit 2 naming the variable, no password printed', async (_name, env, pattern) => {
    const p = spawnBin(SERVER_BIN, [], { DUCTSTREAM_POSTGRES_DSN: stateDsn, DUCTSTREAM_GRPC_LISTEN: '127.0.0.1:0', DBOS__VMID: 'api-flows-bad', ...env });
    const timer = setTimeout(() => p.child.kill('SIGKILL'), 60_000);
    const r = await p.exited;
    clearTimeout(timer);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(pattern);
    expect(r.stderr).not.toContain(STATE_SECRET);
  });
});

afterAll(() => {
  // Checked last: no secret reached the server's log.
  const { stderr } = server.proc.output();
  expect(stderr).toMatch(/serving gRPC on/);
  expect(stderr).not.toContain(STATE_SECRET);
  expect(stderr).not.toContain(SOURCE_SECRET);
  expect(stderr).not.toMatch(/change-me/);
});
