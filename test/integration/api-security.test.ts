/**
 * The API server's protection (issue 10, item 12), through real `./bin/ductstream` processes and
 * real grpc-js and buf clients, with a PKI generated at test time by openssl: bearer tokens
 * (UNAUTHENTICATED without one, health and reflection open), TLS, mutual TLS, the start-up warning
 * on an open non-loopback listener, examples/grpc/create_flow.sh with a token over TLS, and the
 * worker and admin CLI working without the server whatever its security settings say.
 */
import { credentials, status } from '@grpc/grpc-js';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { flowClient, startApiServer, SERVER_BIN, type ApiServerProcess, type ClientAuth } from '../support/api';
import { runAdmin } from '../support/admin';
import { testFlow, writeFlowFile } from '../support/flows';
import { createTestDatabase, type TestDatabase } from '../support/pg';
import { generateTestPki, type TestPki } from '../support/tls';
import { REPO_ROOT, runWorker, spawnBin } from '../support/worker';
import { queryDuckDbFile } from '../support/duckdbFile';

const run = promisify(execFile);
const BUF = join(REPO_ROOT, 'node_modules', '.bin', 'buf');
const TOKEN_A = 'tok-a-3b9d1f7e0c2a4d6b';
const TOKEN_B = 'tok-b-8e1c5a9f2d4b6c0e';

let state: TestDatabase;
let dir: string;
let pki: TestPki;
const servers: ApiServerProcess[] = [];

const flow = (id: string) => ({
  id,
  source: { name: 'pg', type: 'postgres', options: { dsn: 'postgres://app:pw-not-used@127.0.0.1:5432/app', slot: `${id}_slot`, publication: 'pub' } },
  destinations: [{ name: 'wh', type: 'duckdb', options: { dsn: ':memory:' } }],
});

async function storedIds(): Promise<string[]> {
  return (await state.query<{ id: string }>('SELECT id FROM ductstream.flows ORDER BY id')).map((r) => r.id);
}

async function server(env: NodeJS.ProcessEnv): Promise<ApiServerProcess> {
  const s = await startApiServer({ DUCTSTREAM_POSTGRES_DSN: state.dsn, DUCTSTREAM_DBOS_ENABLED: 'false', ...env });
  servers.push(s);
  return s;
}

const tls = (extra: { cert?: string; key?: string } = {}) =>
  credentials.createSsl(readFileSync(pki.caCert), extra.key ? readFileSync(extra.key) : null, extra.cert ? readFileSync(extra.cert) : null);

beforeAll(async () => {
  state = await createTestDatabase('api_security');
  dir = mkdtempSync(join(tmpdir(), 'ductstream-apisec-'));
  pki = generateTestPki(dir);
});

afterAll(async () => {
  for (const s of servers) await s.stop();
  await state.drop();
  rmSync(dir, { recursive: true, force: true });
});

describe('bearer token over TLS', () => {
  let s: ApiServerProcess;
  beforeAll(async () => {
    s = await server({
      DUCTSTREAM_API_TOKEN: `${TOKEN_A}, ${TOKEN_B}`,
      DUCTSTREAM_GRPC_TLS_CERT: pki.serverCert,
      DUCTSTREAM_GRPC_TLS_KEY: pki.serverKey,
    });
  });
  const addr = () => s.address.replace('127.0.0.1', 'localhost');

  it.each<[string, ClientAuth]>([
    ['no authorization header', {}],
    ['a wrong token', { token: 'tok-a-3b9d1f7e0c2a4d6c' }],
    ['a prefix of a valid token', { token: TOKEN_A.slice(0, 10) }],
    ['the token without "Bearer"', { authorization: TOKEN_A }],
    ['Basic instead of Bearer', { authorization: `Basic ${TOKEN_A}` }],
    ['both tokens in one header', { authorization: `Bearer ${TOKEN_A},${TOKEN_B}` }],
  ])('refuses %s with UNAUTHENTICATED, before the handler runs', async (_name, auth) => {
    const c = flowClient(addr(), 'FlowService', { credentials: tls(), ...auth });
    const err = await c.fail('CreateFlow', { flow: flow('intruder') });
    c.close();
    expect(err.code).toBe(status.UNAUTHENTICATED);
    expect(err.details).toMatch(/authorization: .*bearer token/);
    expect(err.details).not.toContain(TOKEN_A);
    expect(await storedIds()).not.toContain('intruder');
  });

  it('accepts every token of the list, for FlowService and StreamService', async () => {
    for (const [i, token] of [TOKEN_A, TOKEN_B].entries()) {
      const c = flowClient(addr(), 'FlowService', { credentials: tls(), token });
      const created = await c.call<{ id: string }>('CreateFlow', { flow: flow(`allowed_${i}`) });
      expect(created.id).toBe(`allowed_${i}`);
      c.close();
    }
    expect(await storedIds()).toEqual(expect.arrayContaining(['allowed_0', 'allowed_1']));
    const streams = flowClient(addr(), 'StreamService', { credentials: tls(), token: TOKEN_B });
    await streams.call('ListStreams', {});
    streams.close();
    const anon = flowClient(addr(), 'StreamService', { credentials: tls() });
    expect((await anon.fail('ListStreams', {})).code).toBe(status.UNAUTHENTICATED);
    anon.close();
  });

  it('keeps health and reflection open, and refuses a plaintext client', async () => {
    const health = await run(BUF, ['curl', '--protocol', 'grpc', '--cacert', pki.caCert, `https://${addr()}/grpc.health.v1.Health/Check`]);
    expect(JSON.parse(health.stdout)).toEqual({ status: 'SERVING' });
    const methods = await run(BUF, ['curl', '--protocol', 'grpc', '--cacert', pki.caCert, '--list-methods', `https://${addr()}`]);
    expect(methods.stdout).toContain('ductstream.v1.FlowService/CreateFlow');
    const plain = flowClient(addr(), 'FlowService', { token: TOKEN_A });
    expect((await plain.fail('ListFlows', {})).code).toBe(status.UNAVAILABLE);
    plain.close();
  });

  it('examples/grpc/create_flow.sh sends the token (from the environment, over TLS)', async () => {
    const path = writeFlowFile(dir, flow('from_script'));
    const env = { ...process.env, DUCTSTREAM_GRPC_ADDR: addr(), DUCTSTREAM_API_TOKEN: `${TOKEN_B},${TOKEN_A}`, DUCTSTREAM_GRPC_CA: pki.caCert };
    const { stdout } = await run(join(REPO_ROOT, 'examples', 'grpc', 'create_flow.sh'), [path], { env });
    expect(JSON.parse(stdout)).toMatchObject({ id: 'from_script', state: 'created' });
    expect(await storedIds()).toContain('from_script');
    const refused = await run(join(REPO_ROOT, 'examples', 'grpc', 'create_flow.sh'), [writeFlowFile(dir, flow('script_no_token'))], {
      env: { ...env, DUCTSTREAM_API_TOKEN: '' },
    }).catch((e: { stderr: string; code: number }) => e);
    expect((refused as { stderr: string }).stderr).toMatch(/unauthenticated/);
    expect(await storedIds()).not.toContain('script_no_token');
  });

  it('does not warn on a loopback address', () => {
    expect(s.proc.output().stderr).not.toMatch(/serving without authentication|travel in plaintext/);
    expect(s.proc.output().stderr).toMatch(/auth="bearer token \(2 accepted\)" tls=tls/);
  });
});

describe('mutual TLS', () => {
  let s: ApiServerProcess;
  beforeAll(async () => {
    s = await server({ DUCTSTREAM_GRPC_TLS_CERT: pki.serverCert, DUCTSTREAM_GRPC_TLS_KEY: pki.serverKey, DUCTSTREAM_GRPC_TLS_CLIENT_CA: pki.caCert });
  });
  const addr = () => s.address.replace('127.0.0.1', 'localhost');

  it('accepts a client certificate signed by the client CA, and refuses none or another CA', async () => {
    const ok = flowClient(addr(), 'FlowService', { credentials: tls({ cert: pki.clientCert, key: pki.clientKey }) });
    await ok.call('CreateFlow', { flow: flow('mtls_ok') });
    ok.close();
    for (const creds of [tls(), tls({ cert: pki.otherClientCert, key: pki.otherClientKey })]) {
      const c = flowClient(addr(), 'FlowService', { credentials: creds });
      expect((await c.fail('CreateFlow', { flow: flow('mtls_refused') })).code).toBe(status.UNAVAILABLE);
      c.close();
    }
    const ids = await storedIds();
    expect(ids).toContain('mtls_ok');
    expect(ids).not.toContain('mtls_refused');
  });
});

describe('start-up', () => {
  it('warns when serving without a token on every interface, and still serves', async () => {
    const s = await server({ DUCTSTREAM_GRPC_LISTEN: '0.0.0.0:0' });
    expect(s.proc.output().stderr).toMatch(/WARN .*serving without authentication on 0\.0\.0\.0:\d+: .*set DUCTSTREAM_API_TOKEN/);
    const c = flowClient(s.address.replace('0.0.0.0', '127.0.0.1'));
    await c.call('CreateFlow', { flow: flow('open_server') });
    c.close();
    await s.stop();
    expect(await storedIds()).toContain('open_server');
  });

  it.each([
    [{ DUCTSTREAM_GRPC_TLS_CERT: 'CERT' }, /DUCTSTREAM_GRPC_TLS_KEY: is required with DUCTSTREAM_GRPC_TLS_CERT/],
    [{ DUCTSTREAM_GRPC_TLS_CLIENT_CA: 'CA' }, /DUCTSTREAM_GRPC_TLS_CLIENT_CA: needs TLS/],
    [
      { DUCTSTREAM_GRPC_TLS_CERT: 'CERT', DUCTSTREAM_GRPC_TLS_KEY: '/nonexistent/key.pem' },
      /DUCTSTREAM_GRPC_TLS_KEY: cannot read \/nonexistent\/key.pem \(ENOENT\)/,
    ],
    [{ DUCTSTREAM_GRPC_TLS_CERT: 'CERT', DUCTSTREAM_GRPC_TLS_KEY: 'OTHERKEY' }, /DUCTSTREAM_GRPC_TLS_KEY: the certificate and key cannot be used together/],
    [{ DUCTSTREAM_GRPC_TLS_CERT: 'KEY', DUCTSTREAM_GRPC_TLS_KEY: 'KEY' }, /DUCTSTREAM_GRPC_TLS_KEY: the certificate and key cannot be used together/],
    [{ DUCTSTREAM_API_TOKEN: 'short' }, /DUCTSTREAM_API_TOKEN: a token is shorter than 16 characters/],
    [{ DUCTSTREAM_API_TOKEN: ' , ' }, /DUCTSTREAM_API_TOKEN: holds no token/],
  ])('%j → exit 2 naming the variable, no key material printed', async (vars, message) => {
    const files: Record<string, string> = { CERT: pki.serverCert, KEY: pki.serverKey, OTHERKEY: pki.clientKey, CA: pki.caCert };
    const env = Object.fromEntries(Object.entries(vars).map(([k, v]) => [k, files[v] ?? v]));
    const p = spawnBin(SERVER_BIN, [], { DUCTSTREAM_POSTGRES_DSN: state.dsn, DUCTSTREAM_DBOS_ENABLED: 'false', DUCTSTREAM_GRPC_LISTEN: '127.0.0.1:0', ...env });
    const r = await p.exited;
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n').pop()).toMatch(message);
    expect(r.stderr).not.toMatch(/BEGIN|PRIVATE/);
  });
});

describe('worker and admin CLI without the server', () => {
  it('ignore the server-only security settings', async () => {
    const source = await createTestDatabase('api_security_src');
    try {
      await source.query('CREATE TABLE public.t (id int PRIMARY KEY, v text)');
      const out = join(dir, 'elsewhere', 'w.duckdb');
      mkdirSync(join(dir, 'data'), { recursive: true });
      const serverOnly = {
        DUCTSTREAM_API_TOKEN: 'short',
        DUCTSTREAM_GRPC_TLS_CERT: '/nonexistent/cert.pem',
        DUCTSTREAM_DATA_DIR: join(dir, 'data'),
      };
      const path = writeFlowFile(
        dir,
        testFlow({
          id: 'sec_worker',
          sourceDsn: source.dsn,
          slot: 'sec_worker_slot',
          publication: 'sec_worker_pub',
          tables: ['public.t'],
          destinations: [{ name: 'd', type: 'duckdb', options: { dsn: out } }],
        }),
      );
      const w = await runWorker(['-flow-file', path, '-max-empty-reads', '1'], { DUCTSTREAM_POSTGRES_DSN: state.dsn, ...serverOnly });
      expect(w.code).toBe(0);
      // the worker runs a local flow file with any path, outside DUCTSTREAM_DATA_DIR too
      expect(existsSync(out)).toBe(true);
      await source.query(`INSERT INTO public.t VALUES (1, 'a'), (2, 'b'), (3, 'c')`);
      const again = await runWorker(['-flow-id', 'sec_worker', '-max-empty-reads', '1'], { DUCTSTREAM_POSTGRES_DSN: state.dsn, ...serverOnly });
      expect(again.code).toBe(0);
      expect(await queryDuckDbFile(out, 'SELECT id::INT AS id FROM public.t ORDER BY id')).toEqual([{ id: 1 }, { id: 2 }, { id: 3 }]);
      const admin = await runAdmin(['stream', 'list'], { DUCTSTREAM_POSTGRES_DSN: state.dsn, ...serverOnly });
      expect(admin.code).toBe(0);
      await source.query(`SELECT pg_drop_replication_slot('sec_worker_slot')`);
    } finally {
      await source.drop();
    }
  });
});
