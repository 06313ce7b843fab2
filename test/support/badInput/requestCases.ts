/**
 * The corpus of malformed flags, environments and API requests (issue 10, item 16). Flag cases
 * name the flag or variable the one-line error must start with; API cases the gRPC status and the
 * field in the `ductstream-field` trailer. `{DSN}` in a flag is replaced by a real database, so a
 * case shows that bad flags are refused before anything is created there.
 */
import { status } from '@grpc/grpc-js';
import { CORPUS_SECRETS } from './flowCases';

const [SRC] = CORPUS_SECRETS as [string];

export interface CliCase {
  args: string[];
  env?: Record<string, string>;
  /** What the last stderr line says after the program name: a flag (`-max`), a variable or a field. */
  names: RegExp;
  /** 2 unless said otherwise. */
  exit?: number;
}

export const WORKER_FLAG_CASES: CliCase[] = [
  { args: [], names: /-flow-id or -flow-file is required/ },
  { args: ['-flow-id', 'x', '-start-lsn', '12/zz'], names: /^flag -start-lsn: "12\/zz" is not an LSN/ },
  { args: ['-flow-file', '/tmp'], names: /^flag -flow-file: cannot read \/tmp: EISDIR/ },
  { args: ['-flow-id', 'x', '-max-empty-reads', '-1'], names: /^flag -max-empty-reads: -1 is below the minimum 0/ },
  { args: ['-flow-id', 'x', '-max-empty-reads', 'many'], names: /^flag -max-empty-reads: "many" is not a whole number/ },
  { args: ['-flow-id', 'x', '-max-empty-reads'], names: /^flag -max-empty-reads needs a value/ },
  { args: ['-flow-id', 'x', '-max-empty-read', '1'], names: /^unknown flag -max-empty-read/ },
  { args: ['-flow-id', 'x', '-mode', 'turbo'], names: /^flag -mode: "turbo" is not a mode/ },
  { args: ['-flow-id', 'x', '-mode', 'backfill', '-tables', ' , '], names: /^flag -tables: is empty; name tables as schema.table/ },
  { args: ['-flow-id', 'x', '-mode', 'backfill', '-start-lsn', '0/1'], names: /^flag -start-lsn applies to -mode stream only/ },
  { args: ['-flow-id', 'x', '-mode', 'backfill', '-partition-count', '0'], names: /^flag -partition-count: 0 is below the minimum 1/ },
  { args: ['-flow-id', 'x', '-resync'], names: /^flag -resync applies to -mode backfill only/ },
  { args: ['-flow-id', 'x', '-tables', 'public.t'], names: /^flag -tables applies to -mode backfill only/ },
  { args: ['-flow-id', 'x', '-resolve-staging=perhaps'], names: /^flag -resolve-staging: "perhaps" is not a boolean/ },
  { args: ['-flow-id', 'x', 'extra'], names: /^unexpected argument "extra"/ },
  { args: ['-flow-file', '/nonexistent/flow.json'], names: /^flag -flow-file: cannot read \/nonexistent\/flow.json: ENOENT/ },
  { args: ['-flow-id', 'x'], env: { DUCTSTREAM_POSTGRES_DSN: '' }, names: /^-flow-id needs DUCTSTREAM_POSTGRES_DSN/ },
  { args: ['-flow-id', 'x'], env: { DUCTSTREAM_POSTGRES_DSN: `not a url ${SRC}` }, names: /^DUCTSTREAM_POSTGRES_DSN: is not a postgres URL/ },
  { args: ['-flow-id', 'x'], env: { DUCTSTREAM_WIRE_FORMAT: 'xml' }, names: /^DUCTSTREAM_WIRE_FORMAT: unknown wire format "xml"/ },
  { args: ['-flow-id', 'x'], env: { DUCTSTREAM_WIRE_ENFORCE: 'sometimes' }, names: /^DUCTSTREAM_WIRE_ENFORCE: "sometimes" is not a boolean/ },
  { args: ['-flow-id', 'x'], env: { DUCTSTREAM_CHECKPOINT_BACKEND: 'redis' }, names: /^DUCTSTREAM_CHECKPOINT_BACKEND: unknown backend "redis"/ },
  { args: ['-flow-id', 'x'], env: { DUCTSTREAM_STEP_MAX_ROWS: '0' }, names: /^DUCTSTREAM_STEP_MAX_ROWS: "0" is not a positive whole number/ },
  { args: ['-flow-id', 'x'], env: { DUCTSTREAM_DBOS_APP: 'bad app!' }, names: /^DUCTSTREAM_DBOS_APP: "bad app!" is not a valid application name/ },
];

export const ADMIN_CASES: CliCase[] = [
  { args: ['nope'], names: /^unknown command "nope"/ },
  { args: ['stream', 'nope'], names: /^unknown subcommand "stream nope"/ },
  { args: ['stream', 'pull', '-group', 'g', '-dsn', '{DSN}'], names: /^flag -stream: is required/ },
  { args: ['stream', 'pull', '-stream', 's', '-dsn', '{DSN}'], names: /^flag -group: is required/ },
  { args: ['stream', 'pull', '-stream', 'bad stream!', '-group', 'g', '-dsn', '{DSN}'], names: /^flag -stream: "bad stream!" is not a valid stream name/ },
  { args: ['stream', 'pull', '-stream', 's', '-group', 'bad group', '-dsn', '{DSN}'], names: /^flag -group: "bad group" is not a valid group name/ },
  { args: ['stream', 'pull', '-stream', 's', '-group', 'g', '-max', '0', '-dsn', '{DSN}'], names: /^flag -max: 0 is below the minimum 1/ },
  { args: ['stream', 'pull', '-stream', 's', '-group', 'g', '-max', '10001', '-dsn', '{DSN}'], names: /^flag -max: 10001 is above the maximum/ },
  { args: ['stream', 'pull', '-stream', 's', '-group', 'g', '-max', 'ten'], names: /^flag -max: "ten" is not a whole number/ },
  { args: ['stream', 'pull', '-stream', 's', '-group', 'g', '-visibility', '0', '-dsn', '{DSN}'], names: /^flag -visibility: 0 is below the minimum 1/ },
  { args: ['stream', 'pull', '-stream', 's', '-group', 'g', '-visibility', '43201', '-dsn', '{DSN}'], names: /^flag -visibility: 43201 is above the maximum/ },
  { args: ['stream', 'pull', '-stream', 's', '-group', 'g', '-start', 'later', '-dsn', '{DSN}'], names: /^flag -start: "later" is not a group start/ },
  { args: ['stream', 'pull', '-stream', 's', '-group', 'g', '-dsn', `mysql://root:${SRC}@db/app`], names: /^flag -dsn: is not a postgres:\/\/ URL/ },
  { args: ['stream', 'pull', '-stream', 's', '-group', 'g', '-bogus'], names: /^unknown flag -bogus/ },
  { args: ['stream', 'pull', '-stream', 's', '-group', 'g', '-json=perhaps'], names: /^flag -json: "perhaps" is not a boolean/ },
  { args: ['stream', 'ack', '-stream', 's', '-group', 'g', '-dsn', '{DSN}'], names: /^flag -ids is required/ },
  { args: ['stream', 'ack', '-stream', 's', '-group', 'g', '-ids', '1,x', '-dsn', '{DSN}'], names: /^flag -ids: "x" is not an event id/ },
  { args: ['stream', 'ack', '-stream', 's', '-group', 'g', '-ids', ',', '-dsn', '{DSN}'], names: /^flag -ids: is empty/ },
  { args: ['stream', 'ack', '-stream', 's', '-group', 'g', '-ids', '-5', '-dsn', '{DSN}'], names: /^flag -ids/ },
  { args: ['stream', 'replay', '-stream', 's', '-group', 'g', '-dsn', '{DSN}'], names: /^flag -since: is required/ },
  { args: ['stream', 'replay', '-stream', 's', '-group', 'g', '-since', 'yesterday', '-dsn', '{DSN}'], names: /^flag -since: "yesterday" is not a timestamp/ },
  { args: ['stream', 'replay', '-stream', 's', '-group', 'g', '-from-lsn', 'zz', '-dsn', '{DSN}'], names: /^flag -from-lsn: "zz" is not an LSN/ },
  {
    args: ['stream', 'replay', '-stream', 's', '-group', 'g', '-since', '2025-01-01T00:00:00Z', '-from-lsn', '0/1', '-dsn', '{DSN}'],
    names: /^flag -since: cannot be combined with from_lsn/,
  },
  { args: ['stream', 'list'], env: { DUCTSTREAM_POSTGRES_DSN: '' }, names: /^DUCTSTREAM_POSTGRES_DSN is required/ },
  { args: ['stream', 'list'], env: { DUCTSTREAM_POSTGRES_DSN: `not a url ${SRC}` }, names: /^DUCTSTREAM_POSTGRES_DSN: is not a postgres URL/ },
  { args: ['stream', 'list'], env: { DUCTSTREAM_WIRE_FORMAT: 'xml' }, names: /^DUCTSTREAM_WIRE_FORMAT: unknown wire format/ },
];

export interface ApiCase {
  name: string;
  service: 'FlowService' | 'StreamService';
  method: string;
  request: Record<string, unknown>;
  code: status;
  /** The `ductstream-field` trailer; undefined when the status names no field. */
  field?: string;
}

/** Requests against a server whose only flow is `corpus_existing` (state created) and whose DBOS is off. */
export const API_REQUEST_CASES: ApiCase[] = [
  { name: 'GetFlow without id', service: 'FlowService', method: 'GetFlow', request: {}, code: status.INVALID_ARGUMENT, field: 'flow_id' },
  { name: 'GetFlow of an unknown flow', service: 'FlowService', method: 'GetFlow', request: { flow_id: 'nope' }, code: status.NOT_FOUND, field: 'flow_id' },
  {
    name: 'ListFlows page_size 5000',
    service: 'FlowService',
    method: 'ListFlows',
    request: { page_size: 5000 },
    code: status.INVALID_ARGUMENT,
    field: 'page_size',
  },
  {
    name: 'ListFlows page_size -1',
    service: 'FlowService',
    method: 'ListFlows',
    request: { page_size: -1 },
    code: status.INVALID_ARGUMENT,
    field: 'page_size',
  },
  {
    name: 'ListFlowRuns on a server without DBOS',
    service: 'FlowService',
    method: 'ListFlowRuns',
    request: { flow_id: 'corpus_existing' },
    code: status.FAILED_PRECONDITION,
  },
  { name: 'CreateFlow without a flow', service: 'FlowService', method: 'CreateFlow', request: {}, code: status.INVALID_ARGUMENT, field: 'flow' },
  { name: 'DeleteFlow without id', service: 'FlowService', method: 'DeleteFlow', request: {}, code: status.INVALID_ARGUMENT, field: 'flow_id' },
  {
    name: 'DeleteFlow of an unknown flow',
    service: 'FlowService',
    method: 'DeleteFlow',
    request: { flow_id: 'nope' },
    code: status.NOT_FOUND,
    field: 'flow_id',
  },
  { name: 'StartFlow of an unknown flow', service: 'FlowService', method: 'StartFlow', request: { flow_id: 'nope' }, code: status.NOT_FOUND, field: 'flow_id' },
  {
    name: 'PauseFlow of a created flow',
    service: 'FlowService',
    method: 'PauseFlow',
    request: { flow_id: 'corpus_existing' },
    code: status.FAILED_PRECONDITION,
    field: 'flow_id',
  },
  {
    name: 'ResumeFlow of a created flow',
    service: 'FlowService',
    method: 'ResumeFlow',
    request: { flow_id: 'corpus_existing' },
    code: status.FAILED_PRECONDITION,
    field: 'flow_id',
  },
  {
    name: 'RunFlowOnce on a server without DBOS',
    service: 'FlowService',
    method: 'RunFlowOnce',
    request: { flow_id: 'corpus_existing' },
    code: status.FAILED_PRECONDITION,
  },
  { name: 'StopFlow without id', service: 'FlowService', method: 'StopFlow', request: {}, code: status.INVALID_ARGUMENT, field: 'flow_id' },
  { name: 'Pull without stream', service: 'StreamService', method: 'Pull', request: { consumer_group: 'g' }, code: status.INVALID_ARGUMENT, field: 'stream' },
  { name: 'Pull without group', service: 'StreamService', method: 'Pull', request: { stream: 's' }, code: status.INVALID_ARGUMENT, field: 'consumer_group' },
  {
    name: 'Pull max_messages 20000',
    service: 'StreamService',
    method: 'Pull',
    request: { stream: 's', consumer_group: 'g', max_messages: 20000 },
    code: status.INVALID_ARGUMENT,
    field: 'max_messages',
  },
  {
    name: 'Pull visibility 0 days',
    service: 'StreamService',
    method: 'Pull',
    request: { stream: 's', consumer_group: 'g', max_messages: 1, visibility_timeout_seconds: 100000 },
    code: status.INVALID_ARGUMENT,
    field: 'visibility_timeout_seconds',
  },
  {
    name: 'Pull with a group name of spaces',
    service: 'StreamService',
    method: 'Pull',
    request: { stream: 's', consumer_group: 'a b' },
    code: status.INVALID_ARGUMENT,
    field: 'consumer_group',
  },
  {
    name: 'Pull of an unknown stream',
    service: 'StreamService',
    method: 'Pull',
    request: { stream: 'nope', consumer_group: 'g' },
    code: status.NOT_FOUND,
    field: 'stream',
  },
  {
    name: 'Ack without ids',
    service: 'StreamService',
    method: 'Ack',
    request: { stream: 's', consumer_group: 'g' },
    code: status.INVALID_ARGUMENT,
    field: 'ids',
  },
  {
    name: 'Replay without a start',
    service: 'StreamService',
    method: 'Replay',
    request: { stream: 's', consumer_group: 'g' },
    code: status.INVALID_ARGUMENT,
    field: 'since',
  },
  {
    name: 'Replay from a bad LSN',
    service: 'StreamService',
    method: 'Replay',
    request: { stream: 's', consumer_group: 'g', from_lsn: 'zz' },
    code: status.INVALID_ARGUMENT,
    field: 'from_lsn',
  },
  {
    name: 'ListStreams with a bad name',
    service: 'StreamService',
    method: 'ListStreams',
    request: { streams: ['bad name!'] },
    code: status.INVALID_ARGUMENT,
    field: 'stream',
  },
];
