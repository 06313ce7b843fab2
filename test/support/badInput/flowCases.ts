/**
 * The corpus of malformed flows and options (issue 10, item 16): each case breaks one thing in an
 * otherwise valid flow that carries secrets in every place a flow can, and names the field the
 * error must name. `via` says which entry points can carry the case: the proto `Flow` cannot
 * express JSON-only mistakes (a state that is an object, an option that is a number), and file
 * options outside DUCTSTREAM_DATA_DIR are refused through the API only (a local flow file run by
 * the worker may use any path).
 */

/** Every secret the corpus puts into flows, flags and environment; none may ever be printed. */
export const CORPUS_SECRETS = ['Src-Pw-7c1f9a', 'Sasl-Pw-2b8e4d', 'Hook-Tok-5d3a7e', 'S3-Secret-9f2c6b', 'slackT0k3nQ8w7e6r5t4y3u2', 'Azure-Code-4e1b8c'];
const [SRC, SASL, HOOK, S3, SLACK, AZURE] = CORPUS_SECRETS as [string, string, string, string, string, string];

export type FlowJson = Record<string, any>;

export interface FlowCase {
  name: string;
  /** Breaks the valid flow built by {@link corpusFlow}. `dir` is the corpus's temp dir (inside the API's data dir). */
  patch?: (f: FlowJson, dir: string) => void;
  /** The whole document instead of a patched flow. */
  whole?: unknown;
  /** The field path the error names (gRPC `ductstream-field` trailer, start of the CLI line). */
  field: string;
  via?: 'api' | 'worker';
}

/** A valid flow: the test source, one DuckDB file destination in `dir`, secrets in the DSN. */
export function corpusFlow(id: string, sourceHostPort: string, sourceDb: string, dir: string): FlowJson {
  return {
    id,
    name: `corpus ${id}`,
    source: {
      name: 'pg',
      type: 'postgres',
      options: {
        dsn: `postgres://postgres:${SRC}@${sourceHostPort}/${sourceDb}`,
        slot: `${id}_slot`,
        publication: `${id}_pub`,
        publication_tables: 'public.t',
      },
    },
    destinations: [{ name: 'wh', type: 'duckdb', options: { dsn: `${dir}/${id}.duckdb` } }],
    wire_format: 'json',
    parallelism: 1,
  };
}

const src = (f: FlowJson) => f.source.options as Record<string, unknown>;
const dst = (f: FlowJson, type: string, options: Record<string, unknown>) => (f.destinations = [{ name: 'd', type, options }]);
const kafka = (o: Record<string, string> = {}) => ({ brokers: '127.0.0.1:1', sasl_mechanism: 'plain', sasl_username: 'u', sasl_password: SASL, ...o });
const http = (o: Record<string, string> = {}) => ({
  url: `https://hooks.slack.com/services/T0A1B2C3D/B0E4F5G6H/${SLACK}`,
  headers: `Authorization:Bearer ${HOOK}`,
  ...o,
});
const s3 = (o: Record<string, string> = {}) => ({ bucket: 'corpus-bucket', access_key_id: 'AKIACORPUS', secret_access_key: S3, ...o });

export const FLOW_CASES: FlowCase[] = [
  // the flow object
  { name: 'a flow that is an array', whole: [], field: 'flow', via: 'worker' },
  { name: 'a flow that is a string', whole: 'orders', field: 'flow', via: 'worker' },
  { name: 'an empty flow object', patch: (f) => Object.keys(f).forEach((k) => delete f[k]), field: 'id' },
  { name: 'no id', patch: (f) => delete f.id, field: 'id' },
  { name: 'an id with spaces', patch: (f) => (f.id = 'bad id!'), field: 'id' },
  { name: 'an id of 200 characters', patch: (f) => (f.id = 'x'.repeat(200)), field: 'id' },
  { name: 'a name that is a number', patch: (f) => (f.name = 42), field: 'name', via: 'worker' },
  { name: 'an unknown top-level field', patch: (f) => (f.destination = f.destinations), field: 'destination', via: 'worker' },
  { name: 'state {"toString": null}', patch: (f) => (f.state = { toString: null }), field: 'state', via: 'worker' },
  { name: 'a state that is an array', patch: (f) => (f.state = ['running']), field: 'state', via: 'worker' },
  { name: 'an unknown state', patch: (f) => (f.state = 'exploded'), field: 'state' },
  { name: 'a state_reason that is an object', patch: (f) => (f.state_reason = { toString: null }), field: 'state_reason', via: 'worker' },
  { name: 'an unknown wire format', patch: (f) => (f.wire_format = 'xml'), field: 'wire_format' },
  { name: 'a wire format that is an object', patch: (f) => (f.wire_format = { valueOf: null }), field: 'wire_format', via: 'worker' },
  { name: 'parallelism 65', patch: (f) => (f.parallelism = 65), field: 'parallelism' },
  { name: 'parallelism -2', patch: (f) => (f.parallelism = -2), field: 'parallelism' },
  { name: 'parallelism "1.5"', patch: (f) => (f.parallelism = '1.5'), field: 'parallelism', via: 'worker' },
  { name: 'parallelism as an object', patch: (f) => (f.parallelism = { toString: null }), field: 'parallelism', via: 'worker' },
  // the source
  { name: 'no source', patch: (f) => delete f.source, field: 'source' },
  { name: 'a source that is a string', patch: (f) => (f.source = 'postgres'), field: 'source', via: 'worker' },
  { name: 'a mysql source', patch: (f) => (f.source.type = 'mysql'), field: 'source.type' },
  { name: 'no source dsn', patch: (f) => delete src(f).dsn, field: 'source.options.dsn' },
  { name: 'a mysql dsn with a password', patch: (f) => (src(f).dsn = `mysql://root:${SRC}@db/app`), field: 'source.options.dsn' },
  { name: 'a dsn with port 99999', patch: (f) => (src(f).dsn = `postgres://app:${SRC}@db:99999/app`), field: 'source.options.dsn' },
  { name: 'a key/value dsn with a stray word', patch: (f) => (src(f).dsn = `host=db password=${SRC} sslpassword=${SRC} oops`), field: 'source.options.dsn' },
  {
    name: 'a dsn with an unencoded @ in the password and a bad port',
    patch: (f) => (src(f).dsn = `postgres://app:${SRC}@x@db:0/app`),
    field: 'source.options.dsn',
  },
  { name: 'no slot', patch: (f) => delete src(f).slot, field: 'source.options.slot' },
  { name: 'an upper-case slot', patch: (f) => (src(f).slot = 'Bad-Slot'), field: 'source.options.slot' },
  { name: 'no publication', patch: (f) => delete src(f).publication, field: 'source.options.publication' },
  { name: 'batch_size "abc"', patch: (f) => (src(f).batch_size = 'abc'), field: 'source.options.batch_size' },
  { name: 'batch_size of 30 digits', patch: (f) => (src(f).batch_size = '9'.repeat(30)), field: 'source.options.batch_size' },
  { name: 'batch_timeout "10 parsecs"', patch: (f) => (src(f).batch_timeout = '10 parsecs'), field: 'source.options.batch_timeout' },
  { name: 'batch_timeout 1000h', patch: (f) => (src(f).batch_timeout = '1000h'), field: 'source.options.batch_timeout' },
  { name: 'status_interval 1ms', patch: (f) => (src(f).status_interval = '1ms'), field: 'source.options.status_interval' },
  { name: 'create_slot "maybe"', patch: (f) => (src(f).create_slot = 'maybe'), field: 'source.options.create_slot' },
  { name: 'a misspelt source option', patch: (f) => (src(f).batchsize = '10'), field: 'source.options.batchsize' },
  { name: 'a source option that is an object', patch: (f) => (src(f).batch_size = { n: 1 }), field: 'source.options.batch_size', via: 'worker' },
  {
    name: 'a source option named __proto__',
    patch: (f) => (f.source.options = JSON.parse(`{"__proto__": "x", "dsn": "${src(f).dsn as string}"}`)),
    field: 'source.options.__proto__',
    via: 'worker',
  },
  { name: 'a publication table without schema', patch: (f) => (src(f).publication_tables = 'public.t,bad name'), field: 'source.options.publication_tables' },
  { name: 'sync_publication_mode "drop"', patch: (f) => (src(f).sync_publication_mode = 'drop'), field: 'source.options.sync_publication_mode' },
  { name: 'a file snapshot state without a path', patch: (f) => (src(f).snapshot_state_backend = 'file'), field: 'source.options.snapshot_state_path' },
  { name: 'partition_count 0', patch: (f) => (src(f).partition_count = '0'), field: 'source.options.partition_count' },
  {
    name: 'snapshot_workers and parallel_tables disagreeing',
    patch: (f) => Object.assign(src(f), { snapshot_workers: '2', parallel_tables: '3' }),
    field: 'source.options.parallel_tables',
  },
  { name: 'a state_schema with a space', patch: (f) => (src(f).state_schema = 'bad schema'), field: 'source.options.state_schema' },
  // destinations
  { name: 'no destinations', patch: (f) => delete f.destinations, field: 'destinations' },
  { name: 'empty destinations', patch: (f) => (f.destinations = []), field: 'destinations' },
  { name: 'a destination that is a string', patch: (f) => (f.destinations = ['duckdb']), field: 'destinations[0]', via: 'worker' },
  { name: 'a destination without type', patch: (f) => delete f.destinations[0].type, field: 'destinations[0].type' },
  { name: 'an unknown destination type', patch: (f) => (f.destinations[0].type = 'warp'), field: 'destinations[0].type' },
  { name: 'two destinations with one name', patch: (f) => f.destinations.push({ ...f.destinations[0] }), field: 'destinations[1].name' },
  { name: 'a destination name with a space', patch: (f) => (f.destinations[0].name = 'a b'), field: 'destinations[0].name' },
  { name: 'an unknown destination field', patch: (f) => (f.destinations[0].option = {}), field: 'destinations[0].option', via: 'worker' },
  { name: 'a destination format "xml"', patch: (f) => dst(f, 'http', http({ format: 'xml' })), field: 'destinations[0].options.format' },
  // duckdb
  { name: 'no duckdb dsn', patch: (f) => delete f.destinations[0].options.dsn, field: 'destinations[0].options.dsn' },
  { name: 'a misspelt duckdb option', patch: (f) => (f.destinations[0].options.dsnn = 'x'), field: 'destinations[0].options.dsnn' },
  { name: 'duckdb write_mode "sideways"', patch: (f) => (f.destinations[0].options.write_mode = 'sideways'), field: 'destinations[0].options.write_mode' },
  {
    name: 'two metadata columns with one name',
    patch: (f) => Object.assign(f.destinations[0].options, { meta_op: 'x', meta_deleted: 'x' }),
    field: 'destinations[0].options.meta_op',
  },
  {
    name: 'type_mappings that are not JSON',
    patch: (f) => (f.destinations[0].options.type_mappings = '{jsonb: VARCHAR'),
    field: 'destinations[0].options.type_mappings',
  },
  {
    name: 'a type mapping with SQL in it',
    patch: (f) => (f.destinations[0].options.type_mappings = '{"jsonb":"VARCHAR); DROP TABLE x; --"}'),
    field: 'destinations[0].options.type_mappings.jsonb',
  },
  {
    name: 'a type_mappings_file that does not exist',
    patch: (f, dir) => (f.destinations[0].options.type_mappings_file = `${dir}/none.json`),
    field: 'destinations[0].options.type_mappings_file',
  },
  // kafka and bufstream
  { name: 'kafka without brokers', patch: (f) => dst(f, 'kafka', { ...kafka(), brokers: '' }), field: 'destinations[0].options.brokers' },
  { name: 'kafka compression brotli', patch: (f) => dst(f, 'kafka', kafka({ compression: 'brotli' })), field: 'destinations[0].options.compression' },
  { name: 'kafka connect_timeout 720h', patch: (f) => dst(f, 'kafka', kafka({ connect_timeout: '720h' })), field: 'destinations[0].options.connect_timeout' },
  {
    name: 'kafka request_timeout 2^31 ms',
    patch: (f) => dst(f, 'kafka', kafka({ request_timeout: '2147483648ms' })),
    field: 'destinations[0].options.request_timeout',
  },
  {
    name: 'kafka sasl_password without a mechanism',
    patch: (f) => dst(f, 'bufstream', { brokers: 'b:9092', sasl_password: SASL }),
    field: 'destinations[0].options.sasl_mechanism',
  },
  { name: 'kafka acks 2', patch: (f) => dst(f, 'kafka', kafka({ acks: '2' })), field: 'destinations[0].options.acks' },
  { name: 'kafka max_retries "lots"', patch: (f) => dst(f, 'kafka', kafka({ max_retries: 'lots' })), field: 'destinations[0].options.max_retries' },
  // s3
  { name: 's3 without bucket', patch: (f) => dst(f, 's3', { ...s3(), bucket: '' }), field: 'destinations[0].options.bucket' },
  { name: 's3 request_timeout 1000h', patch: (f) => dst(f, 's3', s3({ request_timeout: '1000h' })), field: 'destinations[0].options.request_timeout' },
  { name: 's3 endpoint that is not a URL', patch: (f) => dst(f, 's3', s3({ endpoint: `minio:${S3}` })), field: 'destinations[0].options.endpoint' },
  // http
  { name: 'http without url', patch: (f) => dst(f, 'http', { headers: `Authorization:Bearer ${HOOK}` }), field: 'destinations[0].options.url' },
  { name: 'an ftp webhook url', patch: (f) => dst(f, 'http', http({ url: `ftp://u:${HOOK}@h/x` })), field: 'destinations[0].options.url' },
  { name: 'http method DELETE', patch: (f) => dst(f, 'http', http({ method: 'DELETE' })), field: 'destinations[0].options.method' },
  { name: 'http timeout 0ms', patch: (f) => dst(f, 'http', http({ timeout: '0ms' })), field: 'destinations[0].options.timeout' },
  { name: 'http backoff_max 9999h', patch: (f) => dst(f, 'http', http({ backoff_max: '9999h' })), field: 'destinations[0].options.backoff_max' },
  {
    name: 'http mode "stream" with an Azure ?code= url',
    patch: (f) => dst(f, 'http', http({ url: `https://fn.azurewebsites.net/api/h?code=${AZURE}`, mode: 'stream' })),
    field: 'destinations[0].options.mode',
  },
  // pgstream
  { name: 'pgstream without dsn', patch: (f) => dst(f, 'pgstream', {}), field: 'destinations[0].options.dsn' },
  {
    name: 'pgstream trim_interval 9999h',
    patch: (f) => dst(f, 'pgstream', { dsn: `postgres://u:${SRC}@h/db`, trim_interval: '9999h' }),
    field: 'destinations[0].options.trim_interval',
  },
  // files outside DUCTSTREAM_DATA_DIR (the API only)
  {
    name: 'a duckdb file outside the data dir',
    patch: (f) => (f.destinations[0].options.dsn = '/var/tmp/corpus-escape.duckdb'),
    field: 'destinations[0].options.dsn',
    via: 'api',
  },
  {
    name: 'a duckdb file that climbs out with ..',
    patch: (f, dir) => (f.destinations[0].options.dsn = `${dir}/../../corpus-escape.duckdb`),
    field: 'destinations[0].options.dsn',
    via: 'api',
  },
  {
    name: '/etc/passwd as type_mappings_file',
    patch: (f) => (f.destinations[0].options.type_mappings_file = '/etc/passwd'),
    field: 'destinations[0].options.type_mappings_file',
    via: 'api',
  },
  {
    name: 'a snapshot state file outside the data dir',
    patch: (f) => Object.assign(src(f), { snapshot_state_backend: 'file', snapshot_state_path: '/var/tmp/corpus-state.json' }),
    field: 'source.options.snapshot_state_path',
    via: 'api',
  },
  {
    name: 'an sslrootcert outside the data dir',
    patch: (f) => (src(f).dsn = `${src(f).dsn as string}?sslmode=verify-full&sslrootcert=/etc/shadow`),
    field: 'source.options.dsn',
    via: 'api',
  },
];
