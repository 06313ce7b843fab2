import { parseFlow } from '../../src/config/flow';
import { DuctError } from '../../src/core/errors';
import { maskOptions } from '../../src/core/redact';
import '../../src/destinations';
import { retryAfterMs } from '../../src/destinations/http/client';
import { displayUrl, HTTP_DEFAULTS, parseHttpConfig } from '../../src/destinations/http/config';
import { responseError, statusRetryClass } from '../../src/destinations/http/errors';
import { parseHeaderList, scrubHeaderValues } from '../../src/destinations/http/headers';
import { testFlow } from '../support/flows';

const P = 'destinations[0].options';
const parse = (o: Record<string, string>) => parseHttpConfig({ url: 'https://api.example.com/cdc', ...o }, P);
const errorOf = (fn: () => unknown): DuctError => {
  try {
    fn();
  } catch (e) {
    return e as DuctError;
  }
  throw new Error('expected an error');
};

describe('http options', () => {
  test('schema_registry_url: an http(s) base URL, change mode only', () => {
    expect(parse({ schema_registry_url: 'http://registry:8081/' }).schemaRegistryUrl).toBe('http://registry:8081');
    expect(parse({}).schemaRegistryUrl).toBeUndefined();
    const bad = errorOf(() => parse({ schema_registry_url: 'registry:8081' }));
    expect(bad.field).toBe(`${P}.schema_registry_url`);
    expect(bad.describe()).toMatch(/http\(s\) URL/);
    const batch = errorOf(() => parse({ schema_registry_url: 'http://registry:8081', mode: 'batch' }));
    expect(batch.field).toBe(`${P}.schema_registry_url`);
    expect(batch.describe()).toMatch(/mode=change/);
  });

  test('defaults follow the usage guide', () => {
    const c = parse({});
    expect(c).toMatchObject({ method: 'POST', idempotencyHeader: 'Idempotency-Key', mode: 'change', headers: [], timeoutMs: HTTP_DEFAULTS.timeoutMs });
    expect(c.retry).toEqual({ maxAttempts: 6, baseMs: 200, maxMs: 30_000, factor: 2, jitter: 0.2 });
  });

  test('every option is read', () => {
    const c = parse({
      method: 'put',
      format: 'avro',
      headers: 'Authorization:Bearer a:b:c, X-Team: data',
      max_retries: '0',
      backoff_base: '50ms',
      backoff_max: '2s',
      backoff_factor: '1.5',
      idempotency_header: 'X-Idem',
      timeout: '250ms',
      mode: 'batch',
    });
    expect(c).toMatchObject({
      method: 'PUT',
      headers: [
        ['Authorization', 'Bearer a:b:c'],
        ['X-Team', 'data'],
      ],
      idempotencyHeader: 'X-Idem',
      timeoutMs: 250,
      mode: 'batch',
    });
    expect(c.retry).toMatchObject({ maxAttempts: 1, baseMs: 50, maxMs: 2000, factor: 1.5 });
  });

  test.each([
    [{ url: '' }, `${P}.url: is required`],
    [{ url: 'not a url' }, `${P}.url: is not a valid URL`],
    [{ url: 'ftp://x/y' }, `${P}.url: scheme "ftp:" is not supported`],
    [{ method: 'DELETE' }, `${P}.method: "DELETE" is not allowed`],
    [{ format: 'xml' }, `${P}.format: unknown wire format "xml"`],
    [{ headers: 'Authorization Bearer secret-token' }, `${P}.headers: entry 1 has no ":"`],
    [{ headers: 'X-A:1,,X-B:2' }, `${P}.headers: entry 2 is empty`],
    [{ headers: 'Bad Name:secret-token' }, `${P}.headers: entry 1 has an invalid header name`],
    [{ headers: 'X-Key:' }, `${P}.headers: header "X-Key" (entry 1) has an empty value`],
    [{ headers: 'Content-Type:text/plain' }, `${P}.headers: header "Content-Type" is set by the destination itself`],
    [{ headers: 'Idempotency-Key:abc' }, `${P}.headers: header "Idempotency-Key" is set by the destination itself`],
    [{ headers: 'X-A:1,x-a:2' }, `${P}.headers: header "x-a" is given twice`],
    [{ max_retries: '-1' }, `${P}.max_retries: -1 is below the minimum`],
    [{ max_retries: 'lots' }, `${P}.max_retries: "lots" is not an integer`],
    [{ backoff_base: 'soon' }, `${P}.backoff_base: "soon" is not a duration`],
    [{ backoff_factor: '0.5' }, `${P}.backoff_factor: 0.5 is below the minimum`],
    [{ idempotency_header: 'Idem Key' }, `${P}.idempotency_header: "Idem Key" is not a valid header name`],
    [{ mode: 'bulk' }, `${P}.mode: "bulk" is not allowed`],
    [{ retries: '3' }, `${P}.retries: is not a known option`],
  ])('rejects %j', (options, message) => {
    const e = errorOf(() => parse(options));
    expect(e).toBeInstanceOf(DuctError);
    expect(e.retry).toBe('never');
    expect(e.message).toContain(message);
  });

  test('errors about headers never echo a header value', () => {
    for (const headers of ['Authorization Bearer s3cr3t-value', 'Bad Name:s3cr3t-value', 'X-A:s3cr3t-value\nX', 'X-A:s3cr3t-value,x-a:s3cr3t-value']) {
      const e = errorOf(() => parse({ headers }));
      expect(`${e.message} ${e.hint}`).not.toContain('s3cr3t');
    }
  });

  test('a flow with a bad http option is rejected at validation, naming the field', () => {
    const flow = testFlow({
      id: 'f',
      sourceDsn: 'postgres://u@h/db',
      slot: 's',
      publication: 'p',
      tables: ['public.t'],
      destinations: [
        { name: 'ok', type: 'duckdb', options: { dsn: ':memory:' } },
        { name: 'hook', type: 'http', options: { url: 'http://x/y', max_retries: '-3' } },
      ],
    });
    expect(() => parseFlow(flow)).toThrow('destinations[1].options.max_retries: -3 is below the minimum');
  });

  test('maskOptions hides every header value', () => {
    expect(maskOptions({ url: 'https://u:pw@h/p', headers: 'Authorization:Bearer abc,X-Signature:xyz' })).toEqual({
      url: 'https://u:****@h/p',
      headers: 'Authorization:****,X-Signature:****',
    });
  });
});

describe('http helpers', () => {
  test('header lists parse and scrub', () => {
    const headers = parseHeaderList('Authorization:Bearer tok-123456,X-Api-Key:k-987', 'h');
    expect(scrubHeaderValues('echo: Bearer tok-123456 and tok-123456 and k-987', headers)).toBe('echo: **** and **** and ****');
  });

  test('status classes: 2xx ok, 408/429/5xx backoff, other 3xx/4xx permanent', () => {
    expect([200, 201, 204].map(statusRetryClass)).toEqual([undefined, undefined, undefined]);
    expect([408, 429, 500, 502, 503, 504].map(statusRetryClass)).toEqual(Array(6).fill('backoff'));
    expect([301, 400, 401, 403, 404, 409, 413, 422].map(statusRetryClass)).toEqual(Array(8).fill('never'));
  });

  test('a permanent answer names the destination and status, without header values', () => {
    const ctx = {
      target: 'http destination "hook": POST https://h/p',
      urlField: `${P}.url`,
      scrub: (t: string) => scrubHeaderValues(t, [['Authorization', 'Bearer abcdef']]),
    };
    const e = responseError({ status: 401, statusText: 'Unauthorized', bodyStart: 'bad token Bearer abcdef' }, ctx)!;
    expect(e.retry).toBe('never');
    expect(e.message).toBe('http destination "hook": POST https://h/p answered 401 Unauthorized: bad token **** (permanent)');
    expect(e.hint).toContain('credentials');
    const r = responseError({ status: 429, statusText: 'Too Many Requests', retryAfterMs: 2000, bodyStart: '' }, ctx)!;
    expect([r.retry, r.retryAfterMs]).toEqual(['backoff', 2000]);
  });

  test('Retry-After in seconds or as an HTTP date', () => {
    expect(retryAfterMs('3')).toBe(3000);
    expect(retryAfterMs('0.5')).toBe(500);
    expect(retryAfterMs(new Date(10_000).toUTCString(), 4_000)).toBe(6000);
    expect(retryAfterMs('soon')).toBeUndefined();
    expect(retryAfterMs(undefined)).toBeUndefined();
  });

  test('URLs are shown without credentials or query string', () => {
    expect(displayUrl(new URL('https://user:pw@api.example.com:8443/hooks/cdc?token=abc'))).toBe('https://api.example.com:8443/hooks/cdc');
  });
});
