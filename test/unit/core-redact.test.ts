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
