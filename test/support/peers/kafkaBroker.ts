/**
 * A real Kafka-protocol broker for tests: librdkafka's mock cluster, started through `kcat`
 * (`apt-get install -y kcat`; see /work/shared/notes/test-peers.md). It auto-creates topics with 4
 * partitions and lives as long as its kcat process. Records are read back with kcat too (a
 * librdkafka consumer, independent of the kafkajs producer under test), binary-safe.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';

export interface ConsumedRecord {
  topic: string;
  partition: number;
  offset: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, string>;
}

export interface KafkaBroker {
  /** `127.0.0.1:PORT` (the port is ephemeral). */
  bootstrap: string;
  /** The kcat process (for benchmarks that read its CPU time). */
  pid: number | undefined;
  /** Every record of `topic`, partition by partition, in offset order (an unknown topic reads empty). */
  readTopic(topic: string): Promise<ConsumedRecord[]>;
  stop(): Promise<void>;
}

export function kcatAvailable(): boolean {
  return spawnSync('kcat', ['-V'], { stdio: 'ignore' }).status === 0;
}

/** Starts a mock cluster of `brokers` brokers (default 1; partition leaders are spread over them). */
export async function startKafkaBroker(timeoutMs = 10_000, brokers = 1): Promise<KafkaBroker> {
  if (!kcatAvailable()) throw new Error('kcat is not installed: run `apt-get install -y kcat` (the Kafka tests use its mock broker)');
  const child: ChildProcess = spawn(
    'kcat',
    ['-X', `test.mock.num.brokers=${brokers}`, '-d', 'mock', '-b', 'localhost:1', '-C', '-t', '__mock_anchor', '-o', 'beginning'],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  const bootstrap = await new Promise<string>((resolve, reject) => {
    let log = '';
    const timer = setTimeout(
      () => reject(new Error(`the kcat mock broker did not report bootstrap.servers in ${timeoutMs} ms:\n${log.slice(-2000)}`)),
      timeoutMs,
    );
    child.on('exit', (code) => reject(new Error(`kcat exited (${code}) before the mock broker started:\n${log.slice(-2000)}`)));
    child.stderr!.on('data', (d: Buffer) => {
      if (log.length < 100_000) log += d.toString();
      const m = /bootstrap\.servers=(\S+)/.exec(log);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
  });
  // The mock logs every request at debug level: keep draining stderr so kcat never blocks on it.
  child.stderr!.removeAllListeners('data');
  child.stderr!.resume();
  return {
    bootstrap,
    pid: child.pid,
    readTopic: (topic) => readTopic(bootstrap, topic),
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

const FORMAT = '%p %o %S %K %h\n%k%s';

async function readTopic(bootstrap: string, topic: string): Promise<ConsumedRecord[]> {
  const child = spawn('kcat', ['-b', bootstrap, '-C', '-t', topic, '-o', 'beginning', '-e', '-q', '-f', FORMAT], { stdio: ['ignore', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  let err = '';
  child.stdout.on('data', (d: Buffer) => out.push(d));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await new Promise<number | null>((r) => child.on('close', r));
  if (code !== 0) throw new Error(`kcat could not read topic ${topic} (exit ${code}): ${err.slice(-1000)}`);
  return parseRecords(Buffer.concat(out), topic);
}

/** Parses kcat's `FORMAT` output: a text line `partition offset valueLen keyLen headers`, then key and value bytes. */
function parseRecords(buf: Buffer, topic: string): ConsumedRecord[] {
  const records: ConsumedRecord[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const nl = buf.indexOf(0x0a, pos);
    if (nl < 0) throw new Error(`truncated kcat output at byte ${pos}`);
    const line = buf.subarray(pos, nl).toString('utf8');
    const [p, o, s, k, ...rest] = line.split(' ');
    const valueLen = Number(s);
    const keyLen = Number(k);
    pos = nl + 1;
    const key = keyLen >= 0 ? buf.subarray(pos, pos + keyLen) : null;
    pos += Math.max(0, keyLen);
    const value = valueLen >= 0 ? buf.subarray(pos, pos + valueLen) : null;
    pos += Math.max(0, valueLen);
    records.push({ topic, partition: Number(p), offset: Number(o), key, value, headers: parseHeaders(rest.join(' ')) });
  }
  return records.sort((a, b) => a.partition - b.partition || a.offset - b.offset);
}

function parseHeaders(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (text === '') return out;
  // Values may hold commas (the Avro schema header is JSON): a pair starts where a name and `=` follow a comma.
  for (const pair of text.split(/,(?=[A-Za-z_][A-Za-z0-9_.-]*=)/)) {
    const eq = pair.indexOf('=');
    if (eq > 0) out[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return out;
}
