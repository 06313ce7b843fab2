import { DBOS } from '@dbos-inc/dbos-sdk';
import { isLoopbackBind, serverCredentialsFor } from '../api/credentials';
import { parseListenAddress } from '../api/listen';
import { startApiServer, type ApiServer } from '../api/server';
import { startStatusHttp, type StatusHttpServer } from '../http/server';
import { startStatusRuntime, statusExtensionsFor, type StatusRuntime } from '../status';
import { dbosReader } from '../services/backfill/status';
import { dbosWorkflowReader, runHistoryOn } from '../status/runHistory';
import { openAppState, type AppState } from '../state/open';
import { executorIdFor, readApiSecurity, readServiceEnv, type ServiceEnv } from '../config/env';
import { describeError } from '../core/errors';
import { createLogger, type Logger } from '../core/log';
import '../destinations';
import { createPipelineContext, type PipelineContext } from '../pipeline/context';
import { backfillHoldOf } from '../services/backfill/hold';
import { FlowService } from '../services/flows/service';
import { launchDbos, shutdownDbos } from '../workflows/dbos';
import { DbosFlowRuns, registerFlowQueue } from '../workflows/flowQueue';
import { FLOW_RUN_WORKFLOW } from '../workflows/flowRun';
import { releaseAllBackfillRuntimes } from '../pipeline/backfillRuntime';
import { bindPipelineContext } from '../workflows/context';
import { applyServiceSchedules } from '../workflows/schedule';
import { startRunSupervisor } from '../workflows/supervisor';
import { ExecutorPresence } from '../workflows/executorPresence';
import { RunTakeover } from '../workflows/takeover';
import { EXIT_OK, reportFatal } from './exit';
import { formatHelp, parseFlags, UsageError } from './flags';

const PROG = 'ductstream';

const USAGE = `usage: ${PROG}

The DuctStream gRPC API server (ductstream.v1.FlowService, reflection, grpc.health.v1) and a
DBOS application that executes the queued and scheduled flow runs. Configured by environment:
  DUCTSTREAM_POSTGRES_DSN   flows, checkpoints; the DBOS system database is <db>_dbos_sys beside it
                            (or DBOS_SYSTEM_DATABASE_URL)                               (required)
  DUCTSTREAM_GRPC_LISTEN    :8080 (every interface) or host:port                     (default :8080)
  DUCTSTREAM_WIRE_FORMAT    arrow|parquet|avro|proto|json: default of flows that set none (json)
  DUCTSTREAM_WIRE_ENFORCE   true: reject flows/destinations asking for another format  (false)
  DUCTSTREAM_DBOS_ENABLED   false: serve the API only; flows run in ductstream-worker    (true)
  DUCTSTREAM_DBOS_APP       DBOS application name                                (ductstream)
  DUCTSTREAM_DBOS_QUEUE     DBOS queue of flow runs                              (ductstream)
  DUCTSTREAM_DBOS_SCHEDULE  6-field cron, e.g. "*/10 * * * * *": each firing runs every running
                            flow until an empty read; unset: running flows stream continuously
  DUCTSTREAM_API_TOKEN      bearer token(s), comma-separated: calls need "authorization: Bearer <token>"
                            (health and reflection stay open; the status page too); unset: no authentication
  DUCTSTREAM_GRPC_TLS_CERT  PEM certificate chain and key: serve TLS instead of plaintext
  DUCTSTREAM_GRPC_TLS_KEY
  DUCTSTREAM_GRPC_TLS_CLIENT_CA  PEM CA: require client certificates signed by it (mutual TLS)
  DUCTSTREAM_DATA_DIR       file options of flows (duckdb dsn, type_mappings_file, ...) must be
                            inside this directory                                     (./data)
  DBOS__VMID                executor ID (default server@<hostname>); distinct per process.
                            Runs of an executor gone for DUCTSTREAM_TAKEOVER_AFTER seconds (15)
                            are taken over by a live server
  DUCTSTREAM_HTTP_LISTEN    status page and /metrics (host:port)             (127.0.0.1:8081)
  DUCTSTREAM_STATUS_INTERVAL seconds between status samples (slots, lag chart, metrics) (5)
  DBOS__OTLP_TRACES_ENDPOINT, DBOS__OTLP_LOGS_ENDPOINT  OTLP/HTTP export of DBOS traces and logs
SIGINT/SIGTERM: stop serving, end runs after their current batch, exit.`;

function requireStateDsn(env: ServiceEnv): string {
  if (!env.postgresDsn)
    throw new UsageError(
      'DUCTSTREAM_POSTGRES_DSN is required: the server keeps flows, checkpoints and DBOS state there (e.g. postgres://user:pass@localhost:5432/ductstream)',
    );
  return env.postgresDsn;
}

/** Waits (at most `ms`) for the flow runs this process executes to end after their current batch. */
async function drainRuns(executorId: string, ms: number, log: Logger): Promise<void> {
  const pending = await DBOS.listWorkflows({ workflowName: FLOW_RUN_WORKFLOW, status: 'PENDING', executorId, loadInput: false, loadOutput: false }).catch(
    () => [],
  );
  if (pending.length === 0) return;
  log.info('waiting for runs to end after their current batch', { runs: pending.length });
  const all = Promise.allSettled(pending.map((w) => DBOS.retrieveWorkflow(w.workflowID).getResult()));
  await Promise.race([all, new Promise((r) => setTimeout(r, ms).unref())]);
}

/** Warns when the API listens beyond loopback without tokens, or with tokens but without TLS. */
function warnIfExposed(bind: string, tokens: number, tls: string, log: Logger): void {
  if (isLoopbackBind(bind)) return;
  if (tokens === 0)
    log.warn(
      `serving without authentication on ${bind}: anyone who reaches this port can create flows and read streams; set DUCTSTREAM_API_TOKEN (and DUCTSTREAM_GRPC_TLS_CERT/_KEY), or listen on 127.0.0.1`,
    );
  else if (tls === 'none') log.warn(`bearer tokens travel in plaintext on ${bind}: set DUCTSTREAM_GRPC_TLS_CERT and DUCTSTREAM_GRPC_TLS_KEY`);
}

/**
 * Launches DBOS (which recovers this executor's interrupted runs, so the pipeline context must be
 * bound first), takes the executor's presence lock, and sets up the flow-run queue and schedules.
 */
async function startFlowExecution(env: ServiceEnv, executorId: string, presence: ExecutorPresence, log: Logger): Promise<DbosFlowRuns> {
  const maxStepsPerRun = env.runner.stepsPerRun;
  await launchDbos({ env, executorId, systemDatabaseUrl: env.dbosSystemDatabaseUrl!, log, listenQueues: 'all' });
  await presence.start();
  await registerFlowQueue(env.dbosQueue);
  await applyServiceSchedules(env.dbosSchedule, { queueName: env.dbosQueue, maxStepsPerRun });
  return new DbosFlowRuns({ queueName: env.dbosQueue, maxStepsPerRun }, log);
}

/** Resolves on the first SIGINT/SIGTERM; a second one exits at once. */
async function waitForStopSignal(log: Logger): Promise<void> {
  const signal = await new Promise<string>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
  const exitNow = (sig: string): void => {
    process.stderr.write(`${PROG}: second ${sig}, exiting now\n`);
    process.exit(130);
  };
  process.once('SIGINT', () => exitNow('SIGINT'));
  process.once('SIGTERM', () => exitNow('SIGTERM'));
  log.info(`${signal} received: stopping (again to exit now)`);
}

async function main(argv: string[]): Promise<number> {
  const { help } = parseFlags(argv, []);
  if (help) {
    process.stdout.write(formatHelp(USAGE, [{ name: 'h', type: 'bool', help: 'this help' }]));
    return EXIT_OK;
  }
  const env = readServiceEnv();
  requireStateDsn(env);
  const bind = parseListenAddress(env.grpcListen);
  const security = readApiSecurity();
  const { credentials, tls } = serverCredentialsFor(security);
  const log = createLogger({ component: 'server' });
  warnIfExposed(bind, security.tokens.length, tls, log);
  const state: AppState = await openAppState(env);
  let api: ApiServer | undefined;
  let statusHttp: StatusHttpServer | undefined;
  let status: StatusRuntime | undefined;
  let stopSupervisor = (): void => undefined;
  let presence: ExecutorPresence | undefined;
  const executorId = executorIdFor('server');
  let pipeline: PipelineContext | undefined;
  try {
    pipeline = createPipelineContext(env, state, log, env.dbosEnabled ? backfillHoldOf : undefined);
    bindPipelineContext(pipeline);
    const startRunKind = env.dbosSchedule ? 'once' : 'stream';
    let runs: DbosFlowRuns | null = null;
    if (env.dbosEnabled) {
      presence = new ExecutorPresence({ systemDatabaseUrl: env.dbosSystemDatabaseUrl!, app: env.dbosApp, executorId, log });
      runs = await startFlowExecution(env, executorId, presence, log);
    }
    const flows = new FlowService({
      store: state.flows,
      validation: { serviceWireFormat: env.wireFormat, enforceWireFormat: env.wireEnforce, fileRoot: security.dataDir },
      runs,
      startRunKind,
      checkpoints: state.checkpoints,
      ...(state.ddl ? { ddl: state.ddl } : {}),
    });
    status = startStatusRuntime({
      state,
      runs: env.dbosEnabled ? runHistoryOn(dbosWorkflowReader(DBOS), env.dbosSystemDatabaseUrl!) : null,
      executor: executorId,
      log: log.child({ component: 'status' }),
      intervalMs: env.ops.statusIntervalMs,
      extensions: statusExtensionsFor(state, env.dbosEnabled ? dbosReader : null),
    });
    statusHttp = await startStatusHttp({
      listen: env.ops.httpListen,
      tokens: security.tokens,
      log,
      sampler: status.sampler,
      collector: status.sampler.collector,
    });
    api = await startApiServer({ bind, ctx: { env, state, flows, status: status.sampler, log }, log, credentials, tokens: security.tokens });
    if (runs && presence) {
      const takeover = new RunTakeover({ presence, executorId, appVersion: env.appVersion, afterMs: env.runner.takeoverAfterMs, log });
      stopSupervisor = startRunSupervisor({
        store: state.flows,
        runs,
        intervalMs: env.ops.supervisorIntervalMs,
        log,
        takeover,
        enqueueIdle: !env.dbosSchedule,
      });
    }
    api.setServing(true);
    log.info(`serving the status page and /metrics on http://${statusHttp.address}`);
    log.info(`serving gRPC on ${api.address}`, {
      executor: env.dbosEnabled ? executorId : 'none (DUCTSTREAM_DBOS_ENABLED=false)',
      queue: env.dbosQueue,
      schedule: env.dbosSchedule ?? 'none (running flows stream continuously)',
      wire_format: env.wireFormat,
      wire_enforce: env.wireEnforce,
      auth: security.tokens.length > 0 ? `bearer token (${security.tokens.length} accepted)` : 'none',
      tls,
      data_dir: security.dataDir,
    });
    await waitForStopSignal(log);
    stopSupervisor();
    await api.shutdown(5000);
    api = undefined;
    if (env.dbosEnabled) {
      pipeline.runtimes.requestStop();
      await drainRuns(executorId, 15_000, log);
    }
    return EXIT_OK;
  } finally {
    stopSupervisor();
    await api?.shutdown(1000);
    await statusHttp?.close();
    await pipeline?.runtimes.releaseAll();
    await releaseAllBackfillRuntimes();
    await status?.stop();
    if (env.dbosEnabled) await shutdownDbos();
    await presence?.stop();
    await state.close().catch((e: unknown) => log.warn('closing the state database failed', { error: describeError(e) }));
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e) => process.exit(reportFatal(PROG, e)),
);
