import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { maskOptions, redactSecrets } from '../../src/core/redact';
import { parseSnowflakeConfig } from '../../src/destinations/snowflake/config';
import { parseSnowpipeConfig } from '../../src/destinations/snowpipe/config';

const P = 'destinations[0].options';
const DSN = 'snowflake://loader:s3cret@xy12345.eu-central-1/ANALYTICS/RAW?warehouse=LOAD_WH&role=LOADER';

describe('snowflake and snowpipe options', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ductstream-sf-keys-'));
  const key = join(dir, 'rsa.p8');
  const encrypted = join(dir, 'rsa_enc.p8');
  beforeAll(() => {
    execFileSync('openssl', ['genrsa', '-out', join(dir, 'rsa.pem'), '2048'], { stdio: 'ignore' });
    execFileSync('openssl', ['pkcs8', '-topk8', '-nocrypt', '-in', join(dir, 'rsa.pem'), '-out', key], { stdio: 'ignore' });
    execFileSync('openssl', ['pkcs8', '-topk8', '-v2', 'aes256', '-passout', 'pass:open sesame', '-in', join(dir, 'rsa.pem'), '-out', encrypted], {
      stdio: 'ignore',
    });
    writeFileSync(join(dir, 'junk.p8'), 'not a key');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads the usage-guide options with their defaults and the dsn parts', () => {
    const c = parseSnowflakeConfig({ dsn: DSN }, P);
    expect(c.connection).toMatchObject({
      account: 'xy12345.eu-central-1',
      username: 'loader',
      password: 's3cret',
      database: 'ANALYTICS',
      schema: 'RAW',
      warehouse: 'LOAD_WH',
      role: 'LOADER',
    });
    expect(c).toMatchObject({
      writeMode: 'target',
      batchMode: 'target',
      batchResolution: 'none',
      stagingSuffix: '_staging',
      metaTableEnabled: true,
      metaSchema: 'DUCTSTREAM_META',
      metaTable: '__METADATA',
      metaPkPrefix: 'pk_',
    });
    const private_ = parseSnowflakeConfig(
      { dsn: `${DSN}&host=acct.privatelink.snowflakecomputing.com&port=8443&protocol=https`, meta_pk_prefix: 'k_', write_mode: 'append' },
      P,
    );
    expect(private_.connection).toMatchObject({ host: 'acct.privatelink.snowflakecomputing.com', port: 8443, protocol: 'https' });
    expect(private_).toMatchObject({ metaPkPrefix: 'k_', writeMode: 'append' });
  });

  it('reads key-pair auth (plain and encrypted keys) from the dsn or options', () => {
    const plain = parseSnowflakeConfig({ dsn: `snowflake://loader@acct/DB?private_key_path=${key}` }, P);
    expect(plain.connection.password).toBeUndefined();
    expect(plain.connection.privateKeyPem).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    const enc = parseSnowflakeConfig({ dsn: 'snowflake://loader@acct/DB', private_key_path: encrypted, private_key_passphrase: 'open sesame' }, P);
    expect(enc.connection.privateKeyPem).toMatch(/^-----BEGIN PRIVATE KEY-----/);
  });

  it.each([
    [{ dsn: 'postgres://u:p@h/db' }, `${P}.dsn: has scheme "postgres", not snowflake`],
    [{ dsn: 'snowflake://u:p@acct' }, `${P}.dsn: must name a database`],
    [{ dsn: 'snowflake://u@acct/DB' }, `${P}.dsn: has no password and no private key`],
    [{ dsn: `${DSN}&colour=blue` }, `${P}.dsn: has unknown parameter "colour"`],
    [{ dsn: 'snowflake://u@acct/DB?private_key_path=/nope/key.p8' }, `${P}.dsn (private_key_path): cannot read the private key file (ENOENT)`],
    [{ dsn: 'snowflake://u@acct/DB', private_key_path: '/nope/key.p8' }, `${P}.private_key_path: cannot read the private key file (ENOENT)`],
    [{ dsn: DSN, write_mode: 'upsert' }, `${P}.write_mode: "upsert" is not allowed`],
    [{ dsn: DSN, colour: 'x' }, `${P}.colour: is not a known option`],
  ])('rejects bad snowflake options in one line naming the option: %j', (options, message) => {
    expect(() => parseSnowflakeConfig(options as Record<string, string>, P)).toThrow(message);
  });

  it('rejects an unreadable or undecryptable private key naming the option', () => {
    expect(() => parseSnowflakeConfig({ dsn: 'snowflake://u@a/DB', private_key_path: join(dir, 'junk.p8') }, P)).toThrow(
      `${P}.private_key_path: is not a usable RSA private key`,
    );
    expect(() => parseSnowflakeConfig({ dsn: 'snowflake://u@a/DB', private_key_path: encrypted }, P)).toThrow(
      `${P}.private_key_passphrase: is required: the private key is encrypted`,
    );
    expect(() => parseSnowflakeConfig({ dsn: 'snowflake://u@a/DB', private_key_path: encrypted, private_key_passphrase: 'wrong' }, P)).toThrow(
      `${P}.private_key_passphrase: does not decrypt the private key`,
    );
  });

  it('masks the password and passphrase wherever options are shown', () => {
    const masked = maskOptions({ dsn: `snowflake://u:s3cret@a/DB?private_key_passphrase=hunter2`, private_key_passphrase: 'hunter2' });
    expect(JSON.stringify(masked)).not.toMatch(/s3cret|hunter2/);
    expect(redactSecrets(`cannot log in: snowflake://u:s3cret@a/DB`)).not.toContain('s3cret');
  });

  it('reads snowpipe options: stage or the table stage, format, copy_on_write, auto_ingest', () => {
    const c = parseSnowpipeConfig({ dsn: DSN, stage: 'RAW.LANDING', stage_path: '/cdc/', schema: 'RAW', table: 'ORDERS' }, P);
    expect(c).toMatchObject({
      stageRef: '"RAW"."LANDING"',
      stagePath: 'cdc',
      format: 'parquet',
      copyOnWrite: true,
      autoIngest: false,
      metaTableEnabled: true,
      withMetadata: false,
    });
    const tableStage = parseSnowpipeConfig({ dsn: DSN, schema: 'RAW', table: 'ORDERS', format: 'json', append_mode: 'true' }, P);
    expect(tableStage).toMatchObject({ stageRef: '"RAW".%"ORDERS"', format: 'json', withMetadata: true });
    expect(parseSnowpipeConfig({ dsn: DSN, stage: '@%RAW.ORDERS', copy_on_write: 'false' }, P).stageRef).toBe('"RAW".%"ORDERS"');
    expect(parseSnowpipeConfig({ dsn: DSN, stage: 'LANDING', auto_ingest: 'true', file_format: 'MY_PARQUET' }, P)).toMatchObject({
      copyOnWrite: false,
      autoIngest: true,
      fileFormat: 'MY_PARQUET',
    });
  });

  it.each([
    [{ dsn: DSN, copy_on_write: 'false' }, `${P}.stage: is required unless schema and table are set`],
    [{ dsn: DSN, stage: 'LANDING' }, `${P}.schema: is required with copy_on_write=true`],
    [{ dsn: DSN, stage: 'LANDING', schema: 'RAW' }, `${P}.table: is required with copy_on_write=true`],
    [{ dsn: DSN, stage: 'LANDING', auto_ingest: 'true', format: 'csv' }, `${P}.format: "csv" is not allowed (use one of: parquet, avro, json)`],
    [{ dsn: DSN, stage: 'LAND ING', auto_ingest: 'true' }, `${P}.stage: "LAND ING" is not a stage name`],
  ])('rejects bad snowpipe options in one line naming the option: %j', (options, message) => {
    let error: Error | undefined;
    try {
      parseSnowpipeConfig(options, P);
    } catch (e) {
      error = e as Error;
    }
    const text = error && 'describe' in error ? (error as { describe(): string }).describe() : error?.message;
    expect(text).toContain(message);
    expect(text).not.toContain('\n');
  });
});
