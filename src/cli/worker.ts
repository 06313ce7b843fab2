import { readFileSync } from 'node:fs';
import type { Flow } from '../core/flow';
import { parseFlow } from '../config/flow';
import { readServiceEnv } from '../config/env';
import { createLogger } from '../core/log';
import { isLsnText } from '../core/lsn';
import '../destinations';
import { BACKFILL_FLAG_OPTIONS, type BackfillModeArgs } from './backfillFlags';
import { EXIT_OK, reportFatal } from './exit';
import { formatHelp, parseFlags, UsageError, type FlagSpec } from './flags';

const PROG = 'ductstream-worker';

const FLAGS: FlagSpec[] = [
  { name: 'flow-id', type: 'string', placeholder: 'ID', help: 'the flow to run (stored in DUCTSTREAM_POSTGRES_DSN)' },
  { name: 'flow-file', type: 'string', placeholder: 'PATH.json', help: 'create or update the flow from this JSON file, then run it' },
  { name: 'max-empty-reads', type: 'int', placeholder: 'N', min: 0, help: 'stop after N consecutive empty polls (0: run until stopped)' },
  { name: 'start-lsn', type: 'string', placeholder: 'X/Y', help: 'start at this LSN instead of the checkpoint (replay, if the slot retains WAL)' },
  { name: 'metrics-listen', type: 'string', placeholder: 'HOST:PORT', help: 'serve Prometheus /metrics of this flow here (e.g. 127.0.0.1:9464)' },
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
  metricsListen?: string;
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
    for (const f of ['max-empty-reads', 'start-lsn', 'metrics-listen'])
      if (values[f] !== undefined) throw new UsageError(`flag -${f} applies to -mode stream only`);
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
  const metricsListen = values['metrics-listen'] as string | undefined;
  if (metricsListen !== undefined && !/^[^\s]*:\d{1,5}$/.test(metricsListen))
    throw new UsageError(`flag -metrics-listen: "${metricsListen}" is not host:port; use e.g. 127.0.0.1:9464 or :9464`);
  return { flowId, flowFile, maxEmptyReads: (values['max-empty-reads'] as number | undefined) ?? 0, startLsn, metricsListen };
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
  const ctx = { serviceWireFormat: env.wireFormat, enforceWireFormat: env.wireEnforce };
  // A bad flow file is refused before any database is touched (no migration, no connection).
  const fromFile = args.flowFile ? readFlowFile(args.flowFile, args.flowId, ctx) : undefined;
  // The run's modules (DBOS, the state stores, drivers) load only now: bad input is refused in well under a second.
  const { runWorkerFlow } = await import('./workerRun');
  return runWorkerFlow({
    prog: PROG,
    env,
    log,
    ctx,
    fromFile,
    flowFile: args.flowFile,
    flowId: args.flowId,
    maxEmptyReads: args.maxEmptyReads,
    startLsn: args.startLsn,
    metricsListen: args.metricsListen,
    backfill: args.backfill,
  });
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e) => process.exit(reportFatal(PROG, e)),
);
