/**
 * The http destination against a real local webhook peer that fails, rate-limits, delays and
 * resets on demand; and a worker run whose endpoint refuses a change permanently.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuctError } from '../../src/core/errors';
import type { Logger } from '../../src/core/log';
import '../../src/destinations';
import type { Destination } from '../../src/destinations/destination';
import { getDestinationKind } from '../../src/destinations/registry';
import { toEncodedBatch } from '../../src/pipeline/encodedBatch';
import { getCodec } from '../../src/wire/registry';
import { ChangeLog, table } from '../support/changes';
import { testFlow, writeFlowFile } from '../support/flows';
import { startHttpPeer, type HttpPeer } from '../support/peers/httpPeer';
import { createTestDatabase } from '../support/pg';
import { runWorker } from '../support/worker';

const SECRET = 'sup3r-secret-token';
const users = table('public.users', { id: 'int8', name: 'text' }, { primaryKey: ['id'] });
let peer: HttpPeer;
const open: Destination[] = [];

beforeAll(async () => {
  peer = await startHttpPeer();
});
afterEach(async () => {
  for (const d of open.splice(0)) await d.close();
  peer.reset();
});
afterAll(async () => {
  await peer.close();
});

/** A logger that keeps every line, to check what reaches logs. */
function capturingLogger(lines: string[]): Logger {
  const log = (level: string) => (msg: string, fields?: Record<string, unknown>) => void lines.push(`${level} ${msg} ${JSON.stringify(fields ?? {})}`);
  const logger: Logger = { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error'), child: () => logger };
  return logger;
}

async function destination(options: Record<string, string>, opts: { parallelism?: number; lines?: string[]; path?: string } = {}): Promise<Destination> {
  const kind = getDestinationKind('http', 'destinations[0].type');
  const config = kind.parseConfig(
    { url: `${peer.url}${opts.path ?? '/hook'}`, headers: `Authorization:Bearer ${SECRET},X-Team:cdc`, backoff_base: '5ms', backoff_max: '50ms', ...options },
    'destinations[0].options',
  );
  const d = await kind.create(config, {
    flowId: 'f',
    name: 'hook',
    wireFormat: 'json',
    parallelism: opts.parallelism ?? 1,
    log: opts.lines ? capturingLogger(opts.lines) : capturingLogger([]),
  });
  await d.open();
  open.push(d);
  return d;
}

function changesBatch(n: number, log = new ChangeLog()) {
  log.tx((t) => {
    for (let i = 1; i <= n; i++) t.insert(users, { id: BigInt(i), name: `u${i}` });
  });
  return toEncodedBatch(log.batch(), (f) => getCodec(f));
}

const keysOf = (path = '/hook') => peer.delivered(path).map((r) => String(r.headers['idempotency-key']));

test('each request carries Host, the configured headers, and the change headers (also with a query string in the url); URL credentials become Basic authorization unless headers set one', async () => {
  const d = await destination({}, { path: '/hook?tenant=a%20b' });
  await d.write(changesBatch(1));
  const [r] = peer.delivered('/hook');
  expect(r!.headers.host).toBe(new URL(peer.url).host);
  expect(r!.headers).toMatchObject({
    authorization: `Bearer ${SECRET}`,
    'x-team': 'cdc',
    'content-type': 'application/json',
    'x-ductstream-op': 'insert',
    'x-ductstream-table': 'public.users',
    'x-ductstream-seq': '0',
    'content-length': String(r!.body.length),
  });
  expect(String(r!.headers['idempotency-key'])).toMatch(/^[0-9a-f]{64}$/);
  peer.reset();
  const kind = getDestinationKind('http', 'destinations[0].type');
  const withUser = `${peer.url.replace('http://', 'http://us%65r:p%40ss@')}/basic`;
  const own = await kind.create(kind.parseConfig({ url: withUser }, 'destinations[0].options'), {
    flowId: 'f',
    name: 'hook',
    wireFormat: 'json',
    parallelism: 1,
    log: capturingLogger([]),
  });
  open.push(own);
  await own.open();
  await own.write(changesBatch(1));
  expect(peer.delivered('/basic')[0]!.headers.authorization).toBe(`Basic ${Buffer.from('user:p@ss').toString('base64')}`);
});

test('5xx, 429, resets and timeouts are retried: every change arrives, duplicates carry the same key', async () => {
  const d = await destination({ timeout: '150ms', max_retries: '10' });
  peer.failNext({ status: 503 }, { reset: true }, { status: 429, retryAfter: '0' }, { delayMs: 400 }, { status: 500, body: 'oops' }, { status: 408 });
  const batch = changesBatch(5);
  await d.write(batch);
  const delivered = peer.delivered('/hook');
  const ids = delivered.map((r) => JSON.parse(r.body.toString()).key.id as string);
  expect(new Set(ids)).toEqual(new Set(['1', '2', '3', '4', '5']));
  // The delayed request was answered after the client gave up: it arrived twice with one key.
  expect(delivered.length).toBe(6);
  const byKey = new Map<string, Set<string>>();
  for (const r of delivered) {
    const key = String(r.headers['idempotency-key']);
    if (!byKey.has(key)) byKey.set(key, new Set());
    byKey.get(key)!.add(r.body.toString());
  }
  expect(byKey.size).toBe(5);
  for (const bodies of byKey.values()) expect(bodies.size).toBe(1);
  // Failed attempts of a change carried the same key as its delivery, and order held: change 1 first.
  expect(peer.requests.slice(0, 5).map((r) => r.headers['idempotency-key'])).toEqual(Array(5).fill(keysOf()[0]));
  expect(peer.requests.map((r) => r.headers.authorization)).toEqual(Array(peer.requests.length).fill(`Bearer ${SECRET}`));
  expect(delivered[0]!.headers).toMatchObject({
    'content-type': 'application/json',
    'x-team': 'cdc',
    'x-ductstream-op': 'insert',
    'x-ductstream-table': 'public.users',
  });
});

test('Retry-After is honoured (up to backoff_max)', async () => {
  const d = await destination({ max_retries: '2', backoff_max: '5s' });
  peer.failNext({ status: 429, retryAfter: '1' });
  const started = Date.now();
  await d.write(changesBatch(1));
  const [first, second] = peer.requests;
  expect(second!.receivedAt - first!.receivedAt).toBeGreaterThanOrEqual(950);
  expect(Date.now() - started).toBeLessThan(5000);
  expect(peer.delivered('/hook')).toHaveLength(1);
});

test('when retries run out the write fails with the last status (retry class kept), after max_retries + 1 attempts', async () => {
  const lines: string[] = [];
  const d = await destination({ max_retries: '3' }, { lines });
  peer.setPolicy((req) => ({ status: 503, body: `down; you sent ${String(req.headers.authorization)}` }));
  const err = await d.write(changesBatch(1)).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(DuctError);
  expect((err as DuctError).retry).toBe('backoff');
  expect((err as DuctError).message).toBe(`http destination "hook": POST ${peer.url}/hook answered 503 Service Unavailable: down; you sent ****`);
  expect(peer.requests).toHaveLength(4);
  expect(lines.filter((l) => l.includes('retrying'))).toHaveLength(3);
  expect(lines.join('\n')).not.toContain(SECRET);
});

test('a 4xx other than 408/429 is permanent: one attempt, retry never, no secret in the error', async () => {
  const d = await destination({ max_retries: '5' });
  peer.setPolicy((req) => ({ status: 422, body: `{"error":"bad row","auth":"${String(req.headers.authorization)}"}` }));
  const err = await d.write(changesBatch(3)).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(DuctError);
  expect((err as DuctError).retry).toBe('never');
  expect((err as DuctError).message).toContain('answered 422 Unprocessable Entity');
  expect((err as DuctError).message).toContain('(permanent)');
  expect(`${(err as DuctError).message} ${(err as DuctError).hint}`).not.toContain(SECRET);
  expect(peer.requests).toHaveLength(1);
});

test('parallelism sends several rows at once and keeps each row in order', async () => {
  const d = await destination({}, { parallelism: 4 });
  let inFlight = 0;
  let most = 0;
  peer.setPolicy(() => {
    inFlight++;
    most = Math.max(most, inFlight);
    setTimeout(() => inFlight--, 20);
    return { delayMs: 20 };
  });
  const log = new ChangeLog();
  for (let round = 0; round < 3; round++) {
    log.tx((t) => {
      for (let i = 1; i <= 8; i++)
        if (round === 0) t.insert(users, { id: BigInt(i), name: `r${round}` });
        else t.update(users, { id: BigInt(i), name: `r${round}` });
    });
  }
  await d.write(toEncodedBatch(log.batch(), (f) => getCodec(f)));
  expect(most).toBeGreaterThan(1);
  const perRow = new Map<string, string[]>();
  for (const r of peer.delivered('/hook')) {
    const body = JSON.parse(r.body.toString()) as { key: { id: string }; after: { name: string } };
    perRow.set(body.key.id, [...(perRow.get(body.key.id) ?? []), body.after.name]);
  }
  for (const names of perRow.values()) expect(names).toEqual(['r0', 'r1', 'r2']);
});

test('batch mode sends one json-lines request per table per batch', async () => {
  const d = await destination({ mode: 'batch' });
  await d.write(changesBatch(4));
  const [req] = peer.delivered('/hook');
  expect(peer.delivered('/hook')).toHaveLength(1);
  expect(req!.headers).toMatchObject({ 'content-type': getCodec('json').fileContentType, 'x-ductstream-count': '4', 'x-ductstream-table': 'public.users' });
  expect(
    getCodec('json')
      .decodeFile(req!.body, users)
      .map((e) => e.after),
  ).toEqual([1, 2, 3, 4].map((i) => ({ id: BigInt(i), name: `u${i}` })));
});

test('an unreachable endpoint fails open() naming the destination and the url option', async () => {
  const kind = getDestinationKind('http', 'destinations[0].type');
  const config = kind.parseConfig({ url: 'http://127.0.0.1:1/hook?token=abc', headers: `Authorization:${SECRET}` }, 'destinations[3].options');
  const d = await kind.create(config, { flowId: 'f', name: 'hook', wireFormat: 'json', parallelism: 1, log: capturingLogger([]) });
  const err = await d.open().catch((e: unknown) => e);
  expect(err).toBeInstanceOf(DuctError);
  expect((err as DuctError).message).toBe('http destination "hook": cannot connect to http://127.0.0.1:1/hook (destinations[3].options.url): ECONNREFUSED');
  expect((err as DuctError).retry).toBe('backoff');
  await d.close();
});

test('a permanent refusal stops the flow: the worker fails it with the reason, no header value anywhere', async () => {
  const source = await createTestDatabase('http_refusal_src');
  const state = await createTestDatabase('http_refusal_state');
  const dir = mkdtempSync(join(tmpdir(), 'ductstream-http-'));
  try {
    await source.query('CREATE TABLE public.users (id bigint PRIMARY KEY, name text)');
    const flowFile = writeFlowFile(
      dir,
      testFlow({
        id: 'refused',
        sourceDsn: source.dsn,
        slot: `${source.name}_slot`,
        publication: 'refused_pub',
        tables: ['public.users'],
        destinations: [{ name: 'hook', type: 'http', options: { url: `${peer.url}/refuse`, headers: `Authorization:Bearer ${SECRET}` } }],
      }),
    );
    const env = { DUCTSTREAM_POSTGRES_DSN: state.dsn };
    expect((await runWorker(['-flow-file', flowFile, '-max-empty-reads', '1'], env)).code).toBe(0);
    await source.query(`INSERT INTO public.users VALUES (1, 'a'), (2, 'b')`);
    peer.setPolicy((req) => (req.path === '/refuse' ? { status: 400, body: `rejected ${String(req.headers.authorization)}` } : undefined));
    const run = await runWorker(['-flow-id', 'refused', '-max-empty-reads', '2'], env);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`http destination "hook": POST ${peer.url}/refuse answered 400 Bad Request: rejected **** (permanent)`);
    expect(`${run.stdout}${run.stderr}`).not.toContain(SECRET);
    const [flow] = await state.query<{ state: string; state_reason: string }>(`SELECT state, state_reason FROM ductstream.flows WHERE id = 'refused'`);
    expect(flow!.state).toBe('failed');
    expect(flow!.state_reason).toContain('answered 400 Bad Request');
    expect(flow!.state_reason).not.toContain(SECRET);
    expect(peer.requests.filter((r) => r.path === '/refuse')).toHaveLength(1);
  } finally {
    await source.drop();
    await state.drop();
    rmSync(dir, { recursive: true, force: true });
  }
});
