import { DBOS, type DLogger } from '@dbos-inc/dbos-sdk';
import type { ServiceEnv } from '../config/env';
import { DuctError, describeError } from '../core/errors';
import type { Logger, LogLevel } from '../core/log';
import { redactSecrets } from '../core/redact';
import { startOtlpLogs, stopOtlpLogs } from '../status/otlpLogs';
import { withIdleTransactionTimeout } from './systemDatabaseUrl';

/** Routes DBOS's own log lines through our logger (stderr, secrets redacted), below `info` by default. */
function dbosLogger(log: Logger, level: LogLevel): DLogger {
  const text = (v: unknown): string => (typeof v === 'string' ? v : v instanceof Error ? v.message : JSON.stringify(v));
  const quiet = level !== 'debug' && level !== 'info';
  return {
    debug: () => undefined,
    info: (e) => (quiet ? undefined : log.info(redactSecrets(text(e)))),
    warn: (e) => log.warn(redactSecrets(text(e))),
    error: (e) => log.error(redactSecrets(text(e))),
  };
}

export interface LaunchOptions {
  env: ServiceEnv;
  /** Stable and distinct per process (e.g. `worker-<flow>@host`): recovery takes PENDING runs of the same ID only. */
  executorId: string;
  systemDatabaseUrl: string;
  log: Logger;
  /**
   * The database-backed queues this process dequeues from. Default none: every process of the
   * application shares the system database, and a dedicated worker must not pick up runs of
   * other flows from the service queue. The server passes `all`: the service queue and every
   * flow's backfill queue (`ductstream-backfill-<flow>`, created when a backfill starts).
   */
  listenQueues?: string[] | 'all';
}

/**
 * Configures and launches DBOS. Workflows must be registered (by importing their modules)
 * before this is called; queues and schedules after. Recovery of this executor's interrupted
 * runs starts inside `launch`.
 */
export async function launchDbos(o: LaunchOptions): Promise<void> {
  // OTLP export: DBOS's own spans per workflow and step (DBOS__OTLP_TRACES_ENDPOINT), and our log
  // records (DBOS__OTLP_LOGS_ENDPOINT), DBOS's lines among them since they go through our logger:
  // one severity-correct record per line, and DBOS does not capture stdout/stderr.
  const { otlpTracesEndpoint, otlpLogsEndpoint } = o.env.ops;
  if (otlpLogsEndpoint) startOtlpLogs(otlpLogsEndpoint, o.env.dbosApp);
  DBOS.setConfig({
    name: o.env.dbosApp,
    systemDatabaseUrl: withIdleTransactionTimeout(o.systemDatabaseUrl),
    executorID: o.executorId,
    applicationVersion: o.env.appVersion,
    ...(o.listenQueues === 'all' ? {} : { listenQueues: o.listenQueues ?? [] }),
    logger: dbosLogger(o.log.child({ component: 'dbos' }), o.env.ops.dbosLogLevel),
    ...(otlpTracesEndpoint ? { enableOTLP: true, otlpTracesEndpoints: [otlpTracesEndpoint], otlpLogsEndpoints: [] } : {}),
  });
  try {
    await DBOS.launch();
  } catch (e) {
    throw new DuctError('unavailable', `DBOS could not start on its system database: ${describeError(e)}`, {
      field: 'DUCTSTREAM_POSTGRES_DSN',
      hint: 'the DBOS system database is <db>_dbos_sys beside DUCTSTREAM_POSTGRES_DSN (or DBOS_SYSTEM_DATABASE_URL); the user needs CREATEDB the first time',
      cause: e,
    });
  }
}

export async function shutdownDbos(): Promise<void> {
  await DBOS.shutdown().catch(() => undefined);
  await stopOtlpLogs();
}
