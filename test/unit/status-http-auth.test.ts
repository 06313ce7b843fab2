import { silentLogger } from '../../src/core/log';
import { startStatusHttp, type StatusHttpServer } from '../../src/http/server';
import { observeBatchDuration } from '../../src/status/metrics';

let server: StatusHttpServer;
beforeAll(async () => {
  observeBatchDuration('auth-flow', 0.02);
  server = await startStatusHttp({ listen: '127.0.0.1:0', tokens: ['other-token', 's3cret-token'], log: silentLogger });
});
afterAll(() => server.close());

const get = (path: string, headers: Record<string, string> = {}) =>
  fetch(`http://${server.address}${path}`, { headers: { connection: 'close', ...headers }, redirect: 'manual' });

test('without the token: 401 and nothing else', async () => {
  const r = await get('/metrics');
  expect(r.status).toBe(401);
  expect(await r.text()).not.toContain('ductstream_');
  expect((await get('/metrics', { authorization: 'Bearer wrong' })).status).toBe(401);
});

test('Bearer token: /metrics with the batch histogram', async () => {
  const r = await get('/metrics', { authorization: 'Bearer s3cret-token' });
  expect(r.status).toBe(200);
  expect(await r.text()).toContain('ductstream_batch_duration_seconds_count{flow="auth-flow"} 1');
});

test('?token= once sets an HttpOnly cookie that authorizes later requests', async () => {
  const r = await get('/metrics?token=s3cret-token');
  expect(r.status).toBe(303);
  expect(r.headers.get('location')).toBe('/metrics');
  const cookie = r.headers.get('set-cookie')!;
  expect(cookie).toMatch(/^ductstream_token=s3cret-token; HttpOnly; SameSite=Strict/);
  expect((await get('/metrics', { cookie: cookie.split(';')[0]! })).status).toBe(200);
  expect((await get('/metrics?token=nope')).status).toBe(401);
});

test('/healthz needs no token', async () => {
  expect((await get('/healthz')).status).toBe(200);
});
