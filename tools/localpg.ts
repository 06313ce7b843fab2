import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, chownSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { postgresBinDirFromEnv } from '../src/config/env';
import { DuctError } from '../src/core/errors';

/**
 * A private PostgreSQL cluster in a temporary directory with logical replication on, for tests,
 * benchmarks and the demo. It never touches the machine's own cluster: own data directory, own port,
 * own socket directory. As root, initdb/postgres run as the `postgres` user (they refuse root).
 */
export interface LocalCluster {
  readonly port: number;
  readonly dataDir: string;
  readonly host: string;
  /** A DSN for `database` as the superuser `postgres` (trust auth, no password). */
  dsn(database?: string): string;
  /** Shuts the server down (`pg_ctl stop -m fast`: sessions end with 57P01), keeping its data: an outage. */
  shutdown(): Promise<void>;
  /** Starts it again on the same port and data after {@link shutdown}. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export interface LocalClusterOptions {
  /** Extra `-c name=value` settings, e.g. `{ wal_level: 'replica' }` to test validation. */
  settings?: Record<string, string>;
  /** Directory to create the cluster under; default the OS temp dir. */
  parentDir?: string;
  /** Keep the data directory after stop (for debugging). */
  keep?: boolean;
}

const DEFAULT_SETTINGS: Record<string, string> = {
  wal_level: 'logical',
  max_replication_slots: '64',
  max_wal_senders: '64',
  max_connections: '300',
  fsync: 'off',
  synchronous_commit: 'off',
  full_page_writes: 'off',
  shared_buffers: '128MB',
  listen_addresses: '127.0.0.1',
};

/** Finds the directory holding initdb/pg_ctl: `DUCTSTREAM_PG_BIN`, Debian's newest, or PATH. */
export function findPostgresBinDir(): string {
  const fromEnv = postgresBinDirFromEnv();
  if (fromEnv) return fromEnv;
  const debianRoot = '/usr/lib/postgresql';
  if (existsSync(debianRoot)) {
    const versions = readdirSync(debianRoot)
      .filter((v) => existsSync(join(debianRoot, v, 'bin', 'initdb')))
      .sort((a, b) => Number(b) - Number(a));
    if (versions.length > 0) return join(debianRoot, versions[0]!, 'bin');
  }
  const which = spawnSync('sh', ['-c', 'command -v initdb'], { encoding: 'utf8' });
  if (which.status === 0 && which.stdout.trim()) return join(which.stdout.trim(), '..');
  throw new DuctError('failed_precondition', 'PostgreSQL server binaries (initdb, pg_ctl) were not found', {
    hint: 'install them (apt-get install -y postgresql) or set DUCTSTREAM_PG_BIN to their directory',
  });
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function asPostgresUser(bin: string, args: string[]): [string, string[]] {
  if (process.getuid && process.getuid() === 0) return ['runuser', ['-u', 'postgres', '--', bin, ...args]];
  return [bin, args];
}

function postgresUid(): { uid: number; gid: number } | undefined {
  if (!process.getuid || process.getuid() !== 0) return undefined;
  const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
  return { uid, gid };
}

/** Creates, configures and starts a cluster; resolves when it accepts connections. */
export async function startLocalCluster(opts: LocalClusterOptions = {}): Promise<LocalCluster> {
  const binDir = findPostgresBinDir();
  const root = mkdtempSync(join(opts.parentDir ?? tmpdir(), 'ductstream-pg-'));
  const dataDir = join(root, 'data');
  const owner = postgresUid();
  if (owner) chownSync(root, owner.uid, owner.gid);

  const run = (bin: string, args: string[]): void => {
    const [cmd, argv] = asPostgresUser(join(binDir, bin), args);
    const r = spawnSync(cmd, argv, { encoding: 'utf8', cwd: root });
    if (r.status !== 0) {
      throw new DuctError('failed_precondition', `${bin} failed: ${(r.stderr || r.stdout || '').trim().split('\n').slice(-3).join(' | ')}`);
    }
  };

  run('initdb', ['-D', dataDir, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--no-locale', '--no-sync']);
  const port = await freePort();
  const settings = { ...DEFAULT_SETTINGS, ...opts.settings, port: String(port), unix_socket_directories: root };
  const conf =
    Object.entries(settings)
      .map(([k, v]) => `${k} = '${v}'`)
      .join('\n') + '\n';
  writeFileSync(join(dataDir, 'postgresql.auto.conf'), conf);
  // Allow replication connections over TCP with trust (initdb's default only covers local sockets for some setups).
  writeFileSync(
    join(dataDir, 'pg_hba.conf'),
    'local all all trust\nhost all all 127.0.0.1/32 trust\nlocal replication all trust\nhost replication all 127.0.0.1/32 trust\n',
  );
  if (owner) {
    for (const f of ['postgresql.auto.conf', 'pg_hba.conf']) chownSync(join(dataDir, f), owner.uid, owner.gid);
  }
  run('pg_ctl', ['-D', dataDir, '-l', join(root, 'postgres.log'), '-w', '-t', '60', 'start']);

  let stopped = false;
  const cluster: LocalCluster = {
    port,
    dataDir,
    host: '127.0.0.1',
    dsn: (database = 'postgres') => `postgres://postgres@127.0.0.1:${port}/${database}`,
    shutdown: async () => run('pg_ctl', ['-D', dataDir, '-m', 'fast', '-w', 'stop']),
    restart: async () => run('pg_ctl', ['-D', dataDir, '-l', join(root, 'postgres.log'), '-w', '-t', '60', 'start']),
    stop: async () => {
      if (stopped) return;
      stopped = true;
      try {
        run('pg_ctl', ['-D', dataDir, '-m', 'immediate', '-w', 'stop']);
      } finally {
        if (!opts.keep) rmSync(root, { recursive: true, force: true });
      }
    },
  };
  return cluster;
}
