import { homedir, hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { invalidArgument } from '../core/errors';
import { bool, databaseOf, logLevel, nonNegativeInt, otlpEndpoint, positiveInt, seconds, validateCron, withDatabase } from './envValues';
import type { LogLevel } from '../core/log';
import { isWireFormat, WIRE_FORMATS, type WireFormat } from '../wire/codec';

/** Every DUCTSTREAM_* environment variable (docs/usage.md, "Environment"), parsed once into typed values. */
export interface ServiceEnv {
  /** Where flows, checkpoints and other state live (`ductstream` schema). */
  postgresDsn?: string;
  /** `:8080` or `host:port`. */
  grpcListen: string;
  wireFormat: WireFormat;
  wireEnforce: boolean;
  dbosEnabled: boolean;
  dbosApp: string;
  dbosQueue: string;
  /** 6-field cron with seconds, or undefined. */
  dbosSchedule?: string;
  /** The DBOS system database: DBOS_SYSTEM_DATABASE_URL, else `<db>_dbos_sys` beside DUCTSTREAM_POSTGRES_DSN. */
  dbosSystemDatabaseUrl?: string;
  checkpointBackend: 'postgres' | 'sqlite';
  /** SQLite file path (DUCTSTREAM_CHECKPOINT_DSN overrides the whole DSN). */
  checkpointPath: string;
  checkpointDsn?: string;
  /** DBOS application version; pin it so a restarted process recovers runs of the previous one. */
  appVersion: string;
  /** Bounds of the runner's units of work. */
  runner: RunnerLimits;
  /** Operations view: the status page and /metrics listener, its token, sampling, OTLP export. */
  ops: OpsEnv;
  /** DDL governance (DUCTSTREAM_DDL_GATE, _AUTO_APPROVE, _AUTO_APPLY). */
  ddl: DdlGovernance;
}

export interface OpsEnv {
  /** DUCTSTREAM_HTTP_LISTEN: `host:port` of the status page and /metrics (`:8081` = every interface). */
  httpListen: string;
  /** DUCTSTREAM_STATUS_INTERVAL (seconds): how often flow status is sampled (slots, lag chart, metrics). */
  statusIntervalMs: number;
  /** DBOS__OTLP_TRACES_ENDPOINT: OTLP/HTTP endpoint for DBOS's workflow and step spans. */
  otlpTracesEndpoint?: string;
  /** DBOS__OTLP_LOGS_ENDPOINT: OTLP/HTTP endpoint for DBOS's log records. */
  otlpLogsEndpoint?: string;
  /** DUCTSTREAM_PROGRESS_INTERVAL (seconds): the worker's progress lines. */
  progressIntervalMs: number;
  /** DUCTSTREAM_SUPERVISOR_INTERVAL (seconds): how often a server checks every running flow has a run. */
  supervisorIntervalMs: number;
  /** DUCTSTREAM_DBOS_LOG_LEVEL: DBOS's own info lines are logged only at `info` or `debug` (default `warn`). */
  dbosLogLevel: LogLevel;
  /** DUCTSTREAM_LOG_LEVEL, checked at start; loggers made before the environment is read use {@link logLevelFromEnv}. */
  logLevel: LogLevel;
}

/**
 * What happens when a source table's schema changes. Gate off: compatible changes are applied to
 * the destinations at once (incompatible ones stop the table as if gated). Gate on: the table stops
 * at the change until it is approved and applied; auto-approve and auto-apply skip those waits.
 */
export interface DdlGovernance {
  gate: boolean;
  autoApprove: boolean;
  autoApply: boolean;
}

/** How the API server protects itself; see readApiSecurity. */
export interface ApiSecurity {
  /** Accepted bearer tokens (DUCTSTREAM_API_TOKEN, comma-separated); empty: no authentication. */
  tokens: string[];
  /** PEM files of the server's TLS certificate chain and key; unset: plaintext. */
  tlsCertPath?: string;
  tlsKeyPath?: string;
  /** PEM file of the CA that client certificates must chain to (mutual TLS); unset: no client certificates. */
  tlsClientCaPath?: string;
  /** Absolute directory that file options of flows created through the API must stay inside (DUCTSTREAM_DATA_DIR, default ./data). */
  dataDir: string;
}

export interface RunnerLimits {
  /** One deliverBatch step returns after this many rows (DUCTSTREAM_STEP_MAX_ROWS) ... */
  stepMaxRows: number;
  /** ... or this many ms (DUCTSTREAM_STEP_MAX_MS); a checkpoint follows every step. */
  stepMaxMs: number;
  /**
   * A step that has delivered nothing waits on the open stream for its first change up to this many
   * ms (DUCTSTREAM_STEP_IDLE_MAX_MS) instead of ending at its first empty poll.
   */
  stepIdleMaxMs: number;
  /** Already-decoded source batches are merged into one destination write of up to this many changes (DUCTSTREAM_MAX_WRITE_ROWS). */
  maxWriteRows: number;
  /** deliverBatch steps per workflow before the run ends or continues in a successor (DUCTSTREAM_STEPS_PER_RUN). */
  stepsPerRun: number;
  /**
   * Attempts of a step on transient errors before the flow is marked failed (DUCTSTREAM_STEP_MAX_ATTEMPTS);
   * 0, the default, retries without end while the flow shows `retrying: <reason>`.
   */
  stepMaxAttempts: number;
  /** Cap of the delay between two attempts of a step, in ms (DUCTSTREAM_RETRY_MAX_BACKOFF, in seconds). */
  retryMaxBackoffMs: number;
  /**
   * A server takes over the runs of an executor (another server or a worker) that has been gone
   * this long, in ms (DUCTSTREAM_TAKEOVER_AFTER, in seconds).
   */
  takeoverAfterMs: number;
  /** Rows one backfill chunk (one DBOS step) aims at (DUCTSTREAM_BACKFILL_CHUNK_ROWS). */
  backfillChunkRows: number;
}

export { databaseOf, validateCron, withDatabase } from './envValues';

export const ENV_DEFAULTS = {
  grpcListen: ':8080',
  wireFormat: 'json' as WireFormat,
  dbosApp: 'ductstream',
  dbosQueue: 'ductstream',
  checkpointPath: join(homedir(), '.ductstream', 'checkpoints.db'),
  appVersion: '1',
  runner: {
    stepMaxRows: 50_000,
    stepMaxMs: 2_000,
    stepIdleMaxMs: 30_000,
    maxWriteRows: 10_000,
    stepsPerRun: 500,
    stepMaxAttempts: 0,
    retryMaxBackoffMs: 30_000,
    takeoverAfterMs: 15_000,
    backfillChunkRows: 20_000,
  },
  httpListen: '127.0.0.1:8081',
  statusIntervalSeconds: 5,
  progressIntervalSeconds: 5,
  supervisorIntervalSeconds: 5,
  dbosLogLevel: 'warn' as LogLevel,
  logLevel: 'info' as LogLevel,
  dataDir: './data',
  ddl: { gate: false, autoApprove: false, autoApply: false },
};

function readOpsEnv(env: NodeJS.ProcessEnv): OpsEnv {
  const httpListen = env.DUCTSTREAM_HTTP_LISTEN?.trim() || ENV_DEFAULTS.httpListen;
  if (!/^[^\s]*:\d{1,5}$/.test(httpListen))
    throw invalidArgument('DUCTSTREAM_HTTP_LISTEN', `"${httpListen}" is not host:port`, 'use e.g. 127.0.0.1:8081 or :8081');
  return {
    httpListen,
    statusIntervalMs: positiveInt(env, 'DUCTSTREAM_STATUS_INTERVAL', ENV_DEFAULTS.statusIntervalSeconds) * 1000,
    otlpTracesEndpoint: otlpEndpoint(env, 'DBOS__OTLP_TRACES_ENDPOINT'),
    otlpLogsEndpoint: otlpEndpoint(env, 'DBOS__OTLP_LOGS_ENDPOINT'),
    progressIntervalMs: progressIntervalMs(env),
    supervisorIntervalMs: positiveInt(env, 'DUCTSTREAM_SUPERVISOR_INTERVAL', ENV_DEFAULTS.supervisorIntervalSeconds) * 1000,
    dbosLogLevel: logLevel(env, 'DUCTSTREAM_DBOS_LOG_LEVEL', ENV_DEFAULTS.dbosLogLevel),
    logLevel: logLevel(env, 'DUCTSTREAM_LOG_LEVEL', ENV_DEFAULTS.logLevel),
  };
}

/**
 * The API server's security settings: DUCTSTREAM_API_TOKEN, DUCTSTREAM_GRPC_TLS_CERT/_KEY/_CLIENT_CA,
 * DUCTSTREAM_DATA_DIR. Read by the server only (the worker and the admin CLI need none of them);
 * a combination that cannot work is bad input naming the variable.
 */
export function readApiSecurity(env: NodeJS.ProcessEnv = process.env): ApiSecurity {
  const rawTokens = env.DUCTSTREAM_API_TOKEN;
  const tokens = (rawTokens ?? '')
    .split(',')
    .map((t) => t.trim())
    .filter((t) => t !== '');
  if (rawTokens !== undefined && rawTokens.trim() !== '' && tokens.length === 0)
    throw invalidArgument('DUCTSTREAM_API_TOKEN', 'holds no token', 'set one token, or several separated by commas');
  if (tokens.some((t) => t.length < 16 || /[\s]/.test(t)))
    throw invalidArgument(
      'DUCTSTREAM_API_TOKEN',
      'a token is shorter than 16 characters or contains a space',
      'use long random tokens, e.g. openssl rand -hex 32',
    );
  const file = (name: string): string | undefined => env[name]?.trim() || undefined;
  const tlsCertPath = file('DUCTSTREAM_GRPC_TLS_CERT');
  const tlsKeyPath = file('DUCTSTREAM_GRPC_TLS_KEY');
  const tlsClientCaPath = file('DUCTSTREAM_GRPC_TLS_CLIENT_CA');
  if (tlsCertPath && !tlsKeyPath)
    throw invalidArgument('DUCTSTREAM_GRPC_TLS_KEY', 'is required with DUCTSTREAM_GRPC_TLS_CERT', "set it to the PEM file of the certificate's private key");
  if (tlsKeyPath && !tlsCertPath)
    throw invalidArgument('DUCTSTREAM_GRPC_TLS_CERT', 'is required with DUCTSTREAM_GRPC_TLS_KEY', 'set it to the PEM file of the certificate chain');
  if (tlsClientCaPath && !tlsCertPath)
    throw invalidArgument(
      'DUCTSTREAM_GRPC_TLS_CLIENT_CA',
      'needs TLS: set DUCTSTREAM_GRPC_TLS_CERT and DUCTSTREAM_GRPC_TLS_KEY too',
      'mutual TLS runs over TLS',
    );
  return { tokens, tlsCertPath, tlsKeyPath, tlsClientCaPath, dataDir: resolve(env.DUCTSTREAM_DATA_DIR?.trim() || ENV_DEFAULTS.dataDir) };
}

export function readServiceEnv(env: NodeJS.ProcessEnv = process.env): ServiceEnv {
  const postgresDsn = env.DUCTSTREAM_POSTGRES_DSN?.trim() || undefined;
  if (postgresDsn) {
    try {
      new URL(postgresDsn);
    } catch {
      throw invalidArgument('DUCTSTREAM_POSTGRES_DSN', 'is not a postgres URL', 'use postgres://user:pass@host:5432/db');
    }
  }
  const wf = (env.DUCTSTREAM_WIRE_FORMAT?.trim() || ENV_DEFAULTS.wireFormat).toLowerCase();
  if (!isWireFormat(wf)) throw invalidArgument('DUCTSTREAM_WIRE_FORMAT', `unknown wire format "${wf}"`, `use one of: ${WIRE_FORMATS.join(', ')}`);
  const backendRaw = env.DUCTSTREAM_CHECKPOINT_BACKEND?.trim().toLowerCase();
  let checkpointBackend: 'postgres' | 'sqlite';
  if (!backendRaw) checkpointBackend = postgresDsn ? 'postgres' : 'sqlite';
  else if (backendRaw === 'postgres' || backendRaw === 'sqlite') checkpointBackend = backendRaw;
  else throw invalidArgument('DUCTSTREAM_CHECKPOINT_BACKEND', `unknown backend "${backendRaw}"`, 'use postgres or sqlite');
  if (checkpointBackend === 'postgres' && !postgresDsn) {
    throw invalidArgument(
      'DUCTSTREAM_CHECKPOINT_BACKEND',
      'postgres checkpoints need DUCTSTREAM_POSTGRES_DSN',
      'set DUCTSTREAM_POSTGRES_DSN or use DUCTSTREAM_CHECKPOINT_BACKEND=sqlite',
    );
  }
  const schedule = env.DUCTSTREAM_DBOS_SCHEDULE?.trim() || undefined;
  const dbosApp = env.DUCTSTREAM_DBOS_APP?.trim() || ENV_DEFAULTS.dbosApp;
  if (!/^[A-Za-z0-9_-]{1,63}$/.test(dbosApp))
    throw invalidArgument('DUCTSTREAM_DBOS_APP', `"${dbosApp}" is not a valid application name`, 'use letters, digits, _ and -');
  const dbosQueue = env.DUCTSTREAM_DBOS_QUEUE?.trim() || ENV_DEFAULTS.dbosQueue;
  const sysUrl = env.DBOS_SYSTEM_DATABASE_URL?.trim() || (postgresDsn ? withDatabase(postgresDsn, `${databaseOf(postgresDsn)}_dbos_sys`) : undefined);
  return {
    postgresDsn,
    grpcListen: env.DUCTSTREAM_GRPC_LISTEN?.trim() || ENV_DEFAULTS.grpcListen,
    wireFormat: wf,
    wireEnforce: bool(env, 'DUCTSTREAM_WIRE_ENFORCE', false),
    dbosEnabled: bool(env, 'DUCTSTREAM_DBOS_ENABLED', true),
    dbosApp,
    dbosQueue,
    dbosSchedule: schedule ? validateCron(schedule, 'DUCTSTREAM_DBOS_SCHEDULE') : undefined,
    dbosSystemDatabaseUrl: sysUrl,
    checkpointBackend,
    checkpointPath: env.DUCTSTREAM_CHECKPOINT_PATH?.trim() || ENV_DEFAULTS.checkpointPath,
    checkpointDsn: env.DUCTSTREAM_CHECKPOINT_DSN?.trim() || undefined,
    appVersion: env.DUCTSTREAM_APP_VERSION?.trim() || ENV_DEFAULTS.appVersion,
    runner: {
      stepMaxRows: positiveInt(env, 'DUCTSTREAM_STEP_MAX_ROWS', ENV_DEFAULTS.runner.stepMaxRows),
      stepMaxMs: positiveInt(env, 'DUCTSTREAM_STEP_MAX_MS', ENV_DEFAULTS.runner.stepMaxMs),
      stepIdleMaxMs: positiveInt(env, 'DUCTSTREAM_STEP_IDLE_MAX_MS', ENV_DEFAULTS.runner.stepIdleMaxMs),
      maxWriteRows: positiveInt(env, 'DUCTSTREAM_MAX_WRITE_ROWS', ENV_DEFAULTS.runner.maxWriteRows),
      stepsPerRun: positiveInt(env, 'DUCTSTREAM_STEPS_PER_RUN', ENV_DEFAULTS.runner.stepsPerRun),
      stepMaxAttempts: nonNegativeInt(env, 'DUCTSTREAM_STEP_MAX_ATTEMPTS', ENV_DEFAULTS.runner.stepMaxAttempts),
      retryMaxBackoffMs: seconds(env, 'DUCTSTREAM_RETRY_MAX_BACKOFF', ENV_DEFAULTS.runner.retryMaxBackoffMs),
      takeoverAfterMs: seconds(env, 'DUCTSTREAM_TAKEOVER_AFTER', ENV_DEFAULTS.runner.takeoverAfterMs),
      backfillChunkRows: positiveInt(env, 'DUCTSTREAM_BACKFILL_CHUNK_ROWS', ENV_DEFAULTS.runner.backfillChunkRows),
    },
    ops: readOpsEnv(env),
    ddl: {
      gate: bool(env, 'DUCTSTREAM_DDL_GATE', ENV_DEFAULTS.ddl.gate),
      autoApprove: bool(env, 'DUCTSTREAM_DDL_AUTO_APPROVE', ENV_DEFAULTS.ddl.autoApprove),
      autoApply: bool(env, 'DUCTSTREAM_DDL_AUTO_APPLY', ENV_DEFAULTS.ddl.autoApply),
    },
  };
}

/** A stable, distinct DBOS executor ID per process role (two processes sharing one re-run each other's steps). */
export function executorIdFor(role: string, env: NodeJS.ProcessEnv = process.env): string {
  return env.DBOS__VMID?.trim() || `${role}@${hostname()}`;
}

/**
 * The DBOS system database of a process: DBOS_SYSTEM_DATABASE_URL or `<db>_dbos_sys` beside
 * DUCTSTREAM_POSTGRES_DSN; for a standalone worker (no DUCTSTREAM_POSTGRES_DSN), a database named
 * `<source db>_ductstream_dbos_sys` on the source's server.
 */
export function systemDatabaseUrlFor(env: ServiceEnv, sourceDsn: string): string {
  if (env.dbosSystemDatabaseUrl) return env.dbosSystemDatabaseUrl;
  try {
    return withDatabase(sourceDsn, `${databaseOf(sourceDsn)}_ductstream_dbos_sys`);
  } catch {
    throw invalidArgument(
      'DBOS_SYSTEM_DATABASE_URL',
      'is needed when the source DSN is not a URL and DUCTSTREAM_POSTGRES_DSN is unset',
      'set DUCTSTREAM_POSTGRES_DSN, or DBOS_SYSTEM_DATABASE_URL=postgres://user@host/ductstream_dbos_sys',
    );
  }
}

/**
 * Before snowflake-sdk is imported: turn off its cloud platform detection, which on import probes
 * the AWS/Azure/GCP metadata endpoints and STS for its telemetry (over 10 s of login delay and of
 * delayed process exit where those endpoints do not answer). A value the user set is kept.
 */
export function prepareSnowflakeDriverEnv(): void {
  process.env.SNOWFLAKE_DISABLE_PLATFORM_DETECTION ??= 'true';
}

/*
 * Settings read where no ServiceEnv is at hand (loggers, the exit path, tooling, connector
 * defaults). This file is the only one that reads process.env: everything else asks here.
 */

/** The process's environment, for code that hands it on (the admin CLI's context, child processes). */
export function processEnvironment(): NodeJS.ProcessEnv {
  return process.env;
}

/** DUCTSTREAM_LOG_LEVEL for a logger; an unknown value means `info` here (readServiceEnv refuses it). */
export function logLevelFromEnv(env: NodeJS.ProcessEnv = process.env): LogLevel {
  try {
    return logLevel(env, 'DUCTSTREAM_LOG_LEVEL', ENV_DEFAULTS.logLevel);
  } catch {
    return ENV_DEFAULTS.logLevel;
  }
}

/** DUCTSTREAM_DEBUG: any value prints the (redacted) stack of a fatal error. */
export function debugStacksEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  return (env.DUCTSTREAM_DEBUG ?? '') !== '';
}

/** DUCTSTREAM_PROGRESS_INTERVAL (seconds, default 5) in ms: the worker's progress lines. */
export function progressIntervalMs(env: NodeJS.ProcessEnv = process.env): number {
  return positiveInt(env, 'DUCTSTREAM_PROGRESS_INTERVAL', ENV_DEFAULTS.progressIntervalSeconds) * 1000;
}

/**
 * Attempts of a backfill step on transient errors (DUCTSTREAM_STEP_MAX_ATTEMPTS; default, and for
 * 0, 8): a backfill ends failed rather than retrying without end. Read when the module loads.
 */
export function backfillStepAttempts(env: NodeJS.ProcessEnv = process.env): number {
  return Number(env.DUCTSTREAM_STEP_MAX_ATTEMPTS) || 8;
}

/** DUCTSTREAM_PROTO_DIR: the proto root when the server cannot find `proto/` above its code. */
export function protoDirFromEnv(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return env.DUCTSTREAM_PROTO_DIR?.trim() || undefined;
}

/** The default `region` of s3 destinations: AWS_REGION, else AWS_DEFAULT_REGION (as the AWS tools read them). */
export function awsRegionFromEnv(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return env.AWS_REGION?.trim() || env.AWS_DEFAULT_REGION?.trim() || undefined;
}

/** DUCTSTREAM_PG_BIN: where the demo and the tests find PostgreSQL's server binaries. */
export function postgresBinDirFromEnv(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return env.DUCTSTREAM_PG_BIN?.trim() || undefined;
}
