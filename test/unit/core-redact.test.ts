import { DuctError, describeError } from '../../src/core/errors';
import { maskDsn, maskOptions, redactSecrets } from '../../src/core/redact';

describe('secret redaction', () => {
  it('masks URL and key/value DSN passwords', () => {
    expect(maskDsn('postgres://app:s3cret@db:5432/x?sslmode=disable')).toBe('postgres://app:****@db:5432/x?sslmode=disable');
    expect(redactSecrets('host=db user=app password=s3cret dbname=x')).toBe('host=db user=app password=**** dbname=x');
    expect(redactSecrets("password='a b c' host=x")).toBe('password=**** host=x');
    expect(maskDsn('postgres://app@db/x')).toBe('postgres://app@db/x');
  });

  it('masks secret options and authorization headers', () => {
    const masked = maskOptions({ dsn: 'postgres://u:pw@h/db', headers: 'Authorization:Bearer abc,X-Trace:1', secret_access_key: 'k', batch_size: '10' });
    expect(masked).toEqual({ dsn: 'postgres://u:****@h/db', headers: 'Authorization:****,X-Trace:****', secret_access_key: '****', batch_size: '10' });
  });

  it('never lets a secret through a DuctError message or hint', () => {
    const e = new DuctError('unavailable', 'cannot connect to postgres://u:hunter2@h/db', { hint: 'check password=hunter2' });
    expect(describeError(e)).not.toContain('hunter2');
    expect(describeError(new Error('postgres://u:hunter2@h/db refused'))).not.toContain('hunter2');
  });
});

describe('secrets that used to leak (issue 10, item 14)', () => {
  it('masks sslpassword and other *password keys of key/value DSNs', () => {
    expect(redactSecrets('host=db user=app sslpassword=k3yPass sslmode=verify-full')).toBe('host=db user=app sslpassword=**** sslmode=verify-full');
    expect(redactSecrets('postgres://app@db/x?sslpassword=k3yPass&sslmode=require')).toBe('postgres://app@db/x?sslpassword=****&sslmode=require');
    expect(redactSecrets('sasl_password=hunter2, client_secret = abc')).toBe('sasl_password=****, client_secret = ****');
    expect(redactSecrets('{"sasl_password":"hun\\"ter2","topic":"t"}')).toBe('{"sasl_password":"****","topic":"t"}');
  });

  it('masks a URL password that holds an unencoded @', () => {
    expect(maskDsn('postgres://app:p@ss@w0rd@db:5432/x')).toBe('postgres://app:****@db:5432/x');
    expect(redactSecrets('connect to postgres://app:a@b@db/x failed')).not.toMatch(/a@b|b@db/);
    expect(redactSecrets('connect to postgres://app:a@b@db/x failed')).toBe('connect to postgres://app:****@db/x failed');
  });

  it('masks webhook secrets in URL paths and queries', () => {
    const slack = 'https://hooks.slack.com/services/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';
    expect(redactSecrets(`POST ${slack} failed: 404`)).toBe('POST https://hooks.slack.com/services/T0A1B2C3D/B0E4F5G6H/**** failed: 404');
    expect(redactSecrets('https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX')).toBe(
      'https://hooks.slack.com/services/T00000000/B00000000/****',
    );
    expect(redactSecrets('https://fn.azurewebsites.net/api/hook?code=Zm9vYmFy%3D%3D&clientId=a')).toBe(
      'https://fn.azurewebsites.net/api/hook?code=****&clientId=a',
    );
    expect(redactSecrets('https://q.blob.core.windows.net/c?sv=2022&sig=abc%2Bdef&se=1')).toBe('https://q.blob.core.windows.net/c?sv=2022&sig=****&se=1');
    expect(redactSecrets('https://h.example/hook?token=t0k3n&x=1')).toBe('https://h.example/hook?token=****&x=1');
    expect(redactSecrets('https://discord.com/api/webhooks/123456/4bC9dE2fG7hJ1kL3mN5pQ7rS9tU1vW3xY5zA7')).toBe('https://discord.com/api/webhooks/123456/****');
    // ordinary paths stay readable
    expect(redactSecrets('https://api.example.com/v1/orders/events?page=2')).toBe('https://api.example.com/v1/orders/events?page=2');
  });

  it('masks the same secrets in options returned by the API', () => {
    const masked = maskOptions({ url: 'https://h.example/in/aB3dE5fG7hJ9kL1mN3pQ?sig=s3cr3t', dsn: 'host=h sslpassword=x password=y' });
    expect(masked).toEqual({ url: 'https://h.example/in/****?sig=****', dsn: 'host=h sslpassword=**** password=****' });
  });

  it('is idempotent', () => {
    for (const t of ['postgres://a:****@h/x', 'https://hooks.slack.com/services/T1/B2/****', 'x?code=****', 'sslpassword=****'])
      expect(redactSecrets(t)).toBe(t);
  });
});
