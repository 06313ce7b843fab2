import type { Flow } from '../../src/core/flow';
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
