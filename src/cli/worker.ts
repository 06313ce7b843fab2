import { readFileSync } from 'node:fs';
import { DBOS, type WorkflowHandle } from '@dbos-inc/dbos-sdk';
import { openAppState } from '../app/state';
import type { Flow } from '../core/flow';
import { parseFlow } from '../config/flow';
import { executorIdFor, readServiceEnv, systemDatabaseUrlFor } from '../config/env';
import { DuctError } from '../core/errors';
import { createLogger, type Logger } from '../core/log';
import { isLsnText, parseLsn } from '../core/lsn';
import '../destinations';
import { setRunnerDeps } from '../pipeline/deps';
import { checkFlowDestinations } from '../pipeline/destinations';
import { parsePostgresSourceConfig } from '../source/postgres/config';
import { connectClient, endQuietly } from '../source/postgres/connect';
import { checkReplayStart } from '../source/postgres/replayStart';
import type { WireFormat } from '../wire/codec';
import { getCodec } from '../wire/registry';
import { launchDbos, shutdownDbos } from '../workflows/dbos';
import { activeRunOf } from '../workflows/flowQueue';
import { flowRun, type FlowRunOptions, type FlowRunResult } from '../workflows/flowRun';
import { newRunId } from '../workflows/runIds';
import { ExecutorPresence } from '../workflows/executorPresence';
import { RunTakeover } from '../workflows/takeover';
import { releaseAllRuntimes, requestStop, setRunPolicy } from '../workflows/runtimes';
import { backfillHoldOf } from '../services/backfill/hold';
import { BACKFILL_FLAG_OPTIONS, runBackfillMode, type BackfillModeArgs } from './backfillMode';
import { EXIT_OK, reportFatal } from './exit';
import { formatHelp, parseFlags, UsageError, type FlagSpec } from './flags';
import { startProgressReporter } from './progressReporter';

const PROG = 'ductstream-worker';

const FLAGS: FlagSpec[] = [
  { name: 'flow-id', type: 'string', placeholder: 'ID', help: 'the flow to run (stored in DUCTSTREAM_POSTGRES_DSN)' },
  { name: 'flow-file', type: 'string', placeholder: 'PATH.json', help: 'create or update the flow from this JSON file, then run it' },
  { name: 'max-empty-reads', type: 'int', placeholder: 'N', min: 0, help: 'stop after N consecutive empty polls (0: run until stopped)' },
  { name: 'start-lsn', type: 'string', placeholder: 'X/Y', help: 'start at this LSN instead of the checkpoint (replay, if the slot retains WAL)' },
  { name: 'mode', type: 'string', placeholder: 'stream|backfill', help: 'stream (default) or backfill' },
  { name: 'tables', type: 'string', placeholder: 'a.b,c.d', help: 'tables for -mode backfill' },
  { name: 'snapshot-workers', type: 'int', placeholder: 'N', min: 1, help: 'parallel backfill workers' },
  { name: 'partition-column', type: 'string', placeholder: 'COL', help: 'column to hash-partition backfilled tables by' },
  { name: 'partition-count', type: 'int', placeholder: 'N', min: 1, help: 'partitions per backfilled table' },
  { name: 'resolve-staging', type: 'bool', help: 'apply staged backfill data at the end of the run' },
  { name: 'resync', type: 'bool', help: 'reload the tables (with batch_mode=staging: replaced atomically at the end)' },
];

const USAGE = `usage: ${PROG} -flow-id ID [-max-empty-reads N] [-start-lsn X/Y]
       ${PROG} -flow-file flow.json [-max-empty-reads N]
       ${PROG} -flow-id ID -mode backfill [-tables a.b,c.d] [-snapshot-workers N] [-partition-column C]
                 [-partition-count N] [-resolve-staging] [-resync]

Runs one flow in this process as a chain of durable DBOS workflows. Progress goes to stderr;
Ctrl-C stops after the current batch. Environment: DUCTSTREAM_POSTGRES_DSN (flows, checkpoints,
DBOS system database beside it), DUCTSTREAM_CHECKPOINT_BACKEND/_PATH/_DSN, DUCTSTREAM_WIRE_FORMAT.`;

interface WorkerArgs {
  flowId?: string;
  flowFile?: string;
  maxEmptyReads: number;
  startLsn?: string;
  backfill?: BackfillModeArgs;
}

function parseArgs(argv: string[]): WorkerArgs | 'help' {
  const { values, help } = parseFlags(argv, FLAGS);
  if (help) return 'help';
  const flowId = values['flow-id'] as string | undefined;
  const flowFile = values['flow-file'] as string | undefined;
  if (!flowId && !flowFile) throw new UsageError('-flow-id or -flow-file is required; see -h');
  const startLsn = values['start-lsn'] as string | undefined;
  if (startLsn !== undefined && !isLsnText(startLsn))
    throw new UsageError(`flag -start-lsn: "${startLsn}" is not an LSN; use two hex numbers X/Y, e.g. 0/16B6C50`);
  const mode = (values.mode as string | undefined) ?? 'stream';
  if (mode !== 'stream' && mode !== 'backfill') throw new UsageError(`flag -mode: "${mode}" is not a mode; use stream or backfill`);
  if (mode === 'backfill') {
    for (const f of ['max-empty-reads', 'start-lsn']) if (values[f] !== undefined) throw new UsageError(`flag -${f} applies to -mode stream only`);
    const options: Record<string, string> = {};
    for (const [flag, option] of Object.entries(BACKFILL_FLAG_OPTIONS)) if (values[flag] !== undefined) options[option] = String(values[flag]);
    const tables = ((values.tables as string | undefined) ?? '')
      .split(',')
      .map((t) => t.trim())
      .filter((t) => t !== '');
    if (values.tables !== undefined && tables.length === 0) throw new UsageError('flag -tables: is empty; name tables as schema.table,schema.table');
    const input = { tables, options, resolveStaging: values['resolve-staging'] === true, resync: values.resync === true };
    return { flowId, flowFile, maxEmptyReads: 0, backfill: { input } };
  }
  for (const f of ['tables', 'snapshot-workers', 'partition-column', 'partition-count', 'resolve-staging', 'resync']) {
    if (values[f] !== undefined) throw new UsageError(`flag -${f} applies to -mode backfill only`);
  }
  return { flowId, flowFile, maxEmptyReads: (values['max-empty-reads'] as number | undefined) ?? 0, startLsn };
}

function readFlowFile(path: string, flowId: string | undefined, ctx: Parameters<typeof parseFlow>[1]): Flow {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new UsageError(`flag -flow-file: cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`flag -flow-file: ${path} is not valid JSON: ${(e as Error).message}`);
  }
  const flow = parseFlow(json, ctx);
  if (flowId && flowId !== flow.id) throw new UsageError(`flag -flow-id "${flowId}" differs from the id "${flow.id}" in ${path}; pass one of them`);
  return flow;
}

/**
 * Fails fast when the source or a destination does not answer: inside a run, such errors are
 * retried with backoff for minutes, which is right for a running flow but not for a start.
 */
async function checkPeersReachable(flow: Flow, serviceWireFormat: WireFormat, log: Logger): Promise<void> {
  await endQuietly(await connectClient(flow.source.options.dsn!, 'source.options.dsn', { connectTimeoutMs: 5000 }));
  await checkFlowDestinations(flow, serviceWireFormat, log);
}

/** Waits for a run and every successor it hands over to; returns the last run's result. */
async function followChain(first: WorkflowHandle<FlowRunResult>): Promise<FlowRunResult> {
  let handle = first;
  for (;;) {
    const result = await handle.getResult();
    if (!result.successorId) return result;
    handle = DBOS.retrieveWorkflow<FlowRunResult>(result.successorId);
  }
}

async function main(argv: string[]): Promise<number> {
  const args = parseArgs(argv);
  if (args === 'help') {
    process.stdout.write(formatHelp(USAGE, FLAGS));
    return EXIT_OK;
  }
  const env = readServiceEnv();
  const log = createLogger({ component: 'worker' });
  if (!env.postgresDsn && !args.flowFile) {
    throw new UsageError('-flow-id needs DUCTSTREAM_POSTGRES_DSN (where flows live); set it, or pass the flow with -flow-file');
  }
  const state = await openAppState(env);
  let stopProgress = (): void => undefined;
  let presence: ExecutorPresence | undefined;
  try {
    const ctx = { serviceWireFormat: env.wireFormat, enforceWireFormat: env.wireEnforce };
    let flow: Flow | null;
    if (args.flowFile) {
      // Validate everything and reach the source before storing anything.
      const fromFile = readFlowFile(args.flowFile, args.flowId, ctx);
      await checkPeersReachable(fromFile, env.wireFormat, log);
      if (args.startLsn)
        await checkReplayStart(parsePostgresSourceConfig(fromFile.source.options, 'source.options'), parseLsn(args.startLsn), 'flag -start-lsn');
      const { flow: stored, created } = await state.flows.upsert(fromFile);
      process.stderr.write(`${PROG}: flow "${stored.id}" ${created ? 'created' : 'updated'} from ${args.flowFile}\n`);
      flow = stored;
    } else {
      flow = await state.flows.get(args.flowId!);
      if (!flow) throw new DuctError('not_found', `flow "${args.flowId}" does not exist`, { hint: 'create it with the API (CreateFlow) or pass -flow-file' });
      parseFlow(flow, ctx);
      await checkPeersReachable(flow, env.wireFormat, log);
      if (args.startLsn) await checkReplayStart(parsePostgresSourceConfig(flow.source.options, 'source.options'), parseLsn(args.startLsn), 'flag -start-lsn');
    }
    const flowId = flow.id;
    if (flow.state === 'paused') {
      process.stderr.write(`${PROG}: flow "${flowId}" is paused; resume it (ResumeFlow) to run it\n`);
      return EXIT_OK;
    }

    setRunnerDeps({
      env,
      flows: state.flows,
      checkpoints: state.checkpoints,
      codecFor: getCodec,
      log,
      backfillHold: backfillHoldOf,
    });
    const systemDatabaseUrl = systemDatabaseUrlFor(env, flow.source.options.dsn!);
    if (args.backfill) {
      return await runBackfillMode({ prog: PROG, flow, env, args: args.backfill, executorId: executorIdFor(`backfill-${flowId}`), systemDatabaseUrl, log });
    }
    setRunPolicy(flowId, { maxEmptyReads: args.maxEmptyReads });
    const executorId = executorIdFor(`worker-${flowId}`);
    await launchDbos({ env, executorId, systemDatabaseUrl, log });
    presence = new ExecutorPresence({ systemDatabaseUrl, app: env.dbosApp, executorId, log });
    await presence.start();

    let signals = 0;
    const onSignal = (sig: string): void => {
      signals++;
      if (signals > 1) {
        process.stderr.write(`${PROG}: second ${sig}, exiting now\n`);
        process.exit(130);
      }
      process.stderr.write(`${PROG}: ${sig} received, stopping after the current batch (again to exit now)\n`);
      requestStop();
    };
    process.on('SIGINT', () => onSignal('SIGINT'));
    process.on('SIGTERM', () => onSignal('SIGTERM'));
    stopProgress = startProgressReporter(flowId, log);

    // A run interrupted by a crash is recovered by DBOS at launch (same executor ID): finish it first.
    let last: FlowRunResult | undefined;
    const interrupted = await activeRunOf(flowId);
    if (interrupted) {
      // Interrupted under another executor ID (e.g. a new container hostname): take it over once that one is gone.
      const owner = (await DBOS.getWorkflowStatus(interrupted))?.executorId;
      if (owner && owner !== executorId) {
        const takeover = new RunTakeover({ presence, executorId, appVersion: env.appVersion, afterMs: env.runner.takeoverAfterMs, log });
        if (!(await takeover.takeOverWhenGone(owner))) log.info('the flow is being run by another live process; following its run', { executor: owner });
      }
      log.info('resuming an interrupted run', { run: interrupted });
      last = await followChain(DBOS.retrieveWorkflow<FlowRunResult>(interrupted));
    }
    if (!last || last.end === 'empty' || last.end === 'bounded') {
      if (flow.state !== 'running') await state.flows.setState(flowId, 'running');
      const opts: FlowRunOptions = {
        maxEmptyReads: args.maxEmptyReads,
        startLsn: args.startLsn,
        maxStepsPerRun: env.runner.stepsPerRun,
        onBound: 'successor',
        chainIndex: 0,
      };
      const handle = await DBOS.startWorkflow(flowRun, { workflowID: newRunId(flowId) })(flowId, opts);
      last = await followChain(handle);
    }
    stopProgress();
    process.stderr.write(`${PROG}: flow "${flowId}" run ended (${last.end}): ${last.rows} rows in ${last.batches} batches, checkpoint ${last.checkpointLsn}\n`);
    return EXIT_OK;
  } finally {
    stopProgress();
    await releaseAllRuntimes();
    await shutdownDbos();
    await presence?.stop();
    await state.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e) => process.exit(reportFatal(PROG, e)),
);
