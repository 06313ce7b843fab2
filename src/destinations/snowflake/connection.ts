import { createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { invalidArgument } from '../../core/errors';
import type { OptionReader } from '../../config/options';

/**
 * Where and how to log in to Snowflake, from the `dsn` option:
 * `snowflake://user[:password]@account/database[/schema][?warehouse=WH&role=R&host=H&port=P&protocol=https
 * &authenticator=SNOWFLAKE_JWT&private_key_path=/keys/rsa_key.p8&private_key_passphrase=...]`.
 * `host`, `port` and `protocol` point the driver at a private endpoint (PrivateLink, a proxy) as
 * the official drivers accept them; without `host` the driver derives it from the account.
 * Key-pair auth (`private_key_path`, optionally encrypted with `private_key_passphrase`) may also be
 * given as destination options of the same names, which win over the DSN's.
 */
export interface SnowflakeConnectionConfig {
  account: string;
  username: string;
  /** Absent with key-pair auth. */
  password: string | undefined;
  database: string;
  /** The session's schema; undefined = the user's default. */
  schema: string | undefined;
  warehouse: string | undefined;
  role: string | undefined;
  host: string | undefined;
  port: number | undefined;
  protocol: 'https' | 'http' | undefined;
  /** Key-pair auth: the private key as unencrypted PKCS#8 PEM (read and decrypted when the options are parsed). */
  privateKeyPem: string | undefined;
  /** Field path of the dsn, for errors found when connecting. */
  field: string;
}

const DSN_PARAMS = ['warehouse', 'role', 'host', 'port', 'protocol', 'authenticator', 'private_key_path', 'private_key_passphrase'] as const;

const DSN_FIX = 'use snowflake://user:password@account/database/schema?warehouse=WH&role=R';

/** Parses `dsn` (and the key-pair options) of a snowflake or snowpipe destination. Reads the private key file. */
export function readSnowflakeConnection(r: OptionReader): SnowflakeConnectionConfig {
  const field = r.field('dsn');
  const dsn = r.required('dsn', DSN_FIX);
  let url: URL;
  try {
    url = new URL(dsn);
  } catch {
    throw invalidArgument(field, 'is not a URL', DSN_FIX);
  }
  if (url.protocol !== 'snowflake:') throw invalidArgument(field, `has scheme "${url.protocol.replace(/:$/, '')}", not snowflake`, DSN_FIX);
  const username = decodeURIComponent(url.username);
  const account = decodeURIComponent(url.hostname);
  if (username === '') throw invalidArgument(field, 'has no user', DSN_FIX);
  if (account === '') throw invalidArgument(field, 'has no account', DSN_FIX);
  const path = url.pathname
    .split('/')
    .filter((p) => p !== '')
    .map(decodeURIComponent);
  if (path.length === 0 || path.length > 2) throw invalidArgument(field, 'must name a database (and optionally a schema) as its path', DSN_FIX);
  for (const key of url.searchParams.keys()) {
    if (!(DSN_PARAMS as readonly string[]).includes(key)) throw invalidArgument(field, `has unknown parameter "${key}"`, `use only: ${DSN_PARAMS.join(', ')}`);
  }
  const param = (k: (typeof DSN_PARAMS)[number]): string | undefined => url.searchParams.get(k) ?? undefined;
  const portText = param('port');
  const port = portText === undefined ? undefined : Number(portText);
  if (port !== undefined && (!Number.isInteger(port) || port < 1 || port > 65535))
    throw invalidArgument(field, `port "${portText}" is not a TCP port`, 'use e.g. port=443');
  const protocol = param('protocol');
  if (protocol !== undefined && protocol !== 'https' && protocol !== 'http')
    throw invalidArgument(field, `protocol "${protocol}" is not allowed`, 'use protocol=https (or http)');
  const authenticator = param('authenticator');
  if (authenticator !== undefined && !['snowflake', 'snowflake_jwt'].includes(authenticator.toLowerCase())) {
    throw invalidArgument(field, `authenticator "${authenticator}" is not supported`, 'use a password, or key-pair auth with private_key_path');
  }
  const keyPathOption = r.optionalString('private_key_path');
  const passOption = r.optionalString('private_key_passphrase');
  const keyPath = keyPathOption ?? param('private_key_path');
  const keyField = keyPathOption !== undefined ? r.field('private_key_path') : `${field} (private_key_path)`;
  const passphrase = passOption ?? param('private_key_passphrase');
  const passField = passOption !== undefined || keyPathOption !== undefined ? r.field('private_key_passphrase') : `${field} (private_key_passphrase)`;
  const password = url.password === '' ? undefined : decodeURIComponent(url.password);
  if (authenticator?.toLowerCase() === 'snowflake_jwt' && keyPath === undefined) {
    throw invalidArgument(field, 'asks for SNOWFLAKE_JWT but no private key is given', 'set private_key_path');
  }
  if (keyPath === undefined && password === undefined)
    throw invalidArgument(field, 'has no password and no private key', 'give user:password@, or set private_key_path for key-pair auth');
  return {
    account,
    username,
    password: keyPath === undefined ? password : undefined,
    database: path[0]!,
    schema: path[1],
    warehouse: param('warehouse'),
    role: param('role'),
    host: param('host'),
    port,
    protocol,
    privateKeyPem: keyPath === undefined ? undefined : readPrivateKey(keyPath, keyField, passphrase, passField),
    field,
  };
}

/** Reads a PEM private key (PKCS#8 or PKCS#1, encrypted or not) and returns it as unencrypted PKCS#8 PEM. */
function readPrivateKey(path: string, field: string, passphrase: string | undefined, passField: string): string {
  let pem: string;
  try {
    pem = readFileSync(path, 'utf8');
  } catch (e) {
    throw invalidArgument(
      field,
      `cannot read the private key file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
      'give the path of a readable PEM file',
    );
  }
  const encrypted = /ENCRYPTED/.test(pem);
  if (encrypted && passphrase === undefined) throw invalidArgument(passField, 'is required: the private key is encrypted', 'set private_key_passphrase');
  try {
    const key = createPrivateKey(passphrase !== undefined ? { key: pem, format: 'pem', passphrase } : { key: pem, format: 'pem' });
    if (key.asymmetricKeyType !== 'rsa') throw new Error(`a ${key.asymmetricKeyType ?? 'unknown'} key, not RSA`);
    return key.export({ format: 'pem', type: 'pkcs8' }).toString();
  } catch (e) {
    const why = (e as Error).message.split('\n')[0]!;
    if (encrypted) throw invalidArgument(passField, `does not decrypt the private key (${why})`, 'give the passphrase the key was encrypted with');
    throw invalidArgument(field, `is not a usable RSA private key (${why})`, 'give a PEM RSA private key (openssl genrsa / pkcs8)');
  }
}
