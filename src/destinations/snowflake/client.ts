import { prepareSnowflakeDriverEnv } from '../../config/env';
import { DuctError } from '../../core/errors';
import type { Logger } from '../../core/log';
import type { SnowflakeConnectionConfig } from './connection';
import { classifySnowflakeError } from './errors';
import { Serial } from '../../core/serial';

/** A bind value: text or NULL (the statements cast what they need). */
export type SnowflakeBind = string | null;

/**
 * One Snowflake session through the official `snowflake-sdk` (imported lazily: a flow without a
 * Snowflake destination never loads it). Statements run one at a time in call order; results come
 * back with every value as text (numbers, dates, JSON exact). Errors are DuctErrors classified once
 * here (errors.ts). Counts statements and uploaded bytes for the benchmark.
 */
export interface SnowflakeClient {
  execute(sql: string, binds?: SnowflakeBind[]): Promise<Record<string, string | null>[]>;
  /** `PUT file://<localPath> @<stage>[/<path>]`: the driver uploads the (already gzip'ed) file. */
  put(localPath: string, stage: string, path: string): Promise<void>;
  close(): Promise<void>;
  readonly stats: { statements: number; uploadedBytes: number };
}

type Sdk = typeof import('snowflake-sdk');
type SdkConnection = ReturnType<Sdk['createConnection']>;

let sdk: Promise<Sdk> | undefined;

async function loadSdk(): Promise<Sdk> {
  prepareSnowflakeDriverEnv();
  sdk ??= import('snowflake-sdk').then((m) => {
    const s = (m as { default?: Sdk }).default ?? m;
    s.configure({ logLevel: 'OFF' });
    return s;
  });
  return sdk;
}

/** Logs in (fails with a DuctError naming the dsn when the account refuses or cannot be reached). */
export async function connectSnowflake(c: SnowflakeConnectionConfig, log: Logger): Promise<SnowflakeClient> {
  const s = await loadSdk();
  const options: Record<string, unknown> = {
    account: c.account,
    username: c.username,
    database: c.database,
    schema: c.schema,
    warehouse: c.warehouse,
    role: c.role,
    application: 'DuctStream',
    // Retry the login for at most a minute on transient errors (the flow's retry takes over).
    sfRetryMaxLoginRetries: 3,
  };
  if (c.host !== undefined) options.host = c.host;
  if (c.port !== undefined) options.port = c.port;
  if (c.protocol !== undefined) options.protocol = c.protocol;
  if (c.privateKeyPem !== undefined) {
    options.authenticator = 'SNOWFLAKE_JWT';
    options.privateKey = c.privateKeyPem;
  } else {
    options.password = c.password;
  }
  let conn: SdkConnection;
  try {
    conn = s.createConnection(options);
  } catch (e) {
    throw new DuctError('invalid_argument', `${c.field}: the driver refuses the connection settings (${(e as Error).message})`, {
      field: c.field,
      retry: 'never',
    });
  }
  await new Promise<void>((resolve, reject) => {
    conn.connect((err) => (err ? reject(classifySnowflakeError(err, `cannot log in to Snowflake account ${c.account} (${c.field})`)) : resolve()));
  });
  log.debug('connected to snowflake', { account: c.account, database: c.database });
  return new SdkClient(conn);
}

const AS_STRING = ['String', 'Boolean', 'Number', 'Date', 'JSON', 'Buffer'] as const;

class SdkClient implements SnowflakeClient {
  readonly stats = { statements: 0, uploadedBytes: 0 };
  private readonly serial = new Serial();

  constructor(private readonly conn: SdkConnection) {}

  execute(sql: string, binds?: SnowflakeBind[]): Promise<Record<string, string | null>[]> {
    return this.serial.run(() => this.run(sql, binds));
  }

  async put(localPath: string, stage: string, path: string): Promise<void> {
    const target = path === '' ? `@${stage}` : `@${stage}/${path}`;
    const rows = await this.execute(
      `PUT 'file://${localPath}' '${target.replace(/'/g, "\\'")}' AUTO_COMPRESS = FALSE SOURCE_COMPRESSION = AUTO_DETECT OVERWRITE = TRUE`,
    );
    for (const r of rows) this.stats.uploadedBytes += Number(r.targetSize ?? r.sourceSize ?? 0);
  }

  close(): Promise<void> {
    return this.serial.run(
      () =>
        new Promise<void>((resolve) => {
          this.conn.destroy(() => resolve());
        }),
    );
  }

  private run(sql: string, binds: SnowflakeBind[] | undefined): Promise<Record<string, string | null>[]> {
    this.stats.statements++;
    return new Promise((resolve, reject) => {
      this.conn.execute({
        sqlText: sql,
        binds: binds,
        fetchAsString: [...AS_STRING] as never,
        complete: (err, _stmt, rows) => {
          if (err) reject(classifySnowflakeError(err, `Snowflake statement failed: ${sql.slice(0, 120)}`));
          else resolve((rows ?? []) as Record<string, string | null>[]);
        },
      });
    });
  }
}
