import type { Flow } from '../../src/core/flow';
import type { DuctError } from '../../src/core/errors';
import { keepMaskedSecrets, maskFlow } from '../../src/services/flows/mask';

const stored: Flow = {
  id: 'f',
  name: 'f',
  source: { name: 'pg', type: 'postgres', options: { dsn: 'postgres://u:s3cret@h:5432/db', slot: 's', publication: 'p' } },
  destinations: [
    { name: 'hook', type: 'http', options: { url: 'https://x/y', headers: 'Authorization:Bearer tok123,X-A:1' } },
    { name: 'lake', type: 's3', options: { bucket: 'b', secret_access_key: 'AKIAsecret' } },
  ],
  wire_format: '',
  parallelism: 1,
  state: 'running',
};

describe('maskFlow', () => {
  it('masks DSN passwords, secret options and header values of every endpoint', () => {
    const text = JSON.stringify(maskFlow(stored));
    for (const secret of ['s3cret', 'tok123', 'AKIAsecret']) expect(text).not.toContain(secret);
    expect(maskFlow(stored).source.options.dsn).toBe('postgres://u:****@h:5432/db');
    expect(maskFlow(stored).destinations[1]!.options.bucket).toBe('b');
  });
});

describe('keepMaskedSecrets', () => {
  it('keeps stored secrets that come back masked, takes every other value as sent', () => {
    const sentBack = maskFlow(stored);
    sentBack.source.options.slot = 's2';
    const merged = keepMaskedSecrets(sentBack, stored);
    expect(merged.source.options).toEqual({ ...stored.source.options, slot: 's2' });
    expect(merged.destinations).toEqual(stored.destinations);
  });

  it('takes a new secret, and a masked-looking value for an endpoint it does not know', () => {
    const next = maskFlow(stored);
    next.source.options.dsn = 'postgres://u:new@h:5432/db';
    next.destinations[1] = { ...next.destinations[1]!, name: 'other' };
    const merged = keepMaskedSecrets(next, stored);
    expect(merged.source.options.dsn).toBe('postgres://u:new@h:5432/db');
    expect(merged.destinations[1]!.options.secret_access_key).toBe('****');
  });
});

describe('keepMaskedSecrets when the endpoint moves (issue 10, item 13)', () => {
  const kafka: Flow = {
    ...stored,
    destinations: [
      { name: 'bus', type: 'kafka', options: { brokers: 'b1:9092,b2:9092', sasl_mechanism: 'plain', sasl_username: 'u', sasl_password: 'kafka-s3cret' } },
      { name: 'hook', type: 'http', options: { url: 'https://hooks.example.com/in', headers: 'Authorization:Bearer tok123' } },
      { name: 'lake', type: 's3', options: { bucket: 'b', endpoint: 'http://minio:9000', secret_access_key: 'AKIAsecret' } },
    ],
  };
  const invalid = (f: () => unknown): DuctError => {
    try {
      f();
    } catch (e) {
      return e as DuctError;
    }
    throw new Error('expected an error');
  };

  it('keeps masked secrets when only the order of brokers or non-location options change', () => {
    const next = maskFlow(kafka);
    next.destinations[0]!.options.brokers = 'B2:9092, b1:9092';
    next.destinations[0]!.options.topic = 'orders';
    next.destinations[1]!.options.url = 'https://HOOKS.example.com/in/v2';
    const merged = keepMaskedSecrets(next, kafka);
    expect(merged.destinations[0]!.options.sasl_password).toBe('kafka-s3cret');
    expect(merged.destinations[1]!.options.headers).toBe('Authorization:Bearer tok123');
    expect(merged.source.options.dsn).toBe('postgres://u:s3cret@h:5432/db');
  });

  it.each([
    ['brokers', 0, 'brokers', 'evil:9092', 'destinations[0].options.sasl_password'],
    ['url', 1, 'url', 'https://evil.example/in', 'destinations[1].options.headers'],
    ['endpoint', 2, 'endpoint', 'http://evil:9000', 'destinations[2].options.secret_access_key'],
  ])('refuses a masked secret once %s points at another host, naming the option', (_name, i, key, value, field) => {
    const next = maskFlow(kafka);
    next.destinations[i]!.options[key] = value;
    const e = invalid(() => keepMaskedSecrets(next, kafka));
    expect(e.code).toBe('invalid_argument');
    expect(e.field).toBe(field);
    expect(e.message).toContain(key);
    expect(e.message).not.toMatch(/kafka-s3cret|tok123|AKIAsecret/);
  });

  it('refuses a masked DSN password when the DSN names another host, in the URL or its query, or changed otherwise', () => {
    for (const dsn of [
      'postgres://u:****@h:5432/otherdb',
      'postgres://u:****@evil:5432/db',
      'postgres://u:****@h:5432/db?host=evil',
      'host=evil user=u password=****',
    ]) {
      const next = maskFlow(stored);
      next.source.options.dsn = dsn;
      expect(invalid(() => keepMaskedSecrets(next, stored)).field).toBe('source.options.dsn');
    }
  });

  it('takes real new secrets for a moved endpoint', () => {
    const next = maskFlow(kafka);
    next.destinations[0]!.options.brokers = 'other:9092';
    next.destinations[0]!.options.sasl_password = 'new-secret';
    expect(keepMaskedSecrets(next, kafka).destinations[0]!.options.sasl_password).toBe('new-secret');
  });
});
