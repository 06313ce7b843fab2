/**
 * Internal stages of the Snowflake stand-in: `PUT` is answered with a `LOCAL_FS` location (the
 * real snowflake-sdk then copies the file there itself), and `COPY INTO` loads staged files into a
 * DuckDB table, keeping a load history per table so a file already loaded is skipped (as
 * Snowflake's load metadata does) unless `FORCE = TRUE`.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { DuckDBConnection } from '@duckdb/node-api';

export interface PutCommand {
  localPath: string;
  stage: string;
  path: string;
}

const PUT = /^\s*PUT\s+'?file:\/\/([^'\s]+)'?\s+'?@([^'\s/]+(?:\/[^'\s]*)?)'?/i;

export function parsePut(sql: string): PutCommand | undefined {
  const m = PUT.exec(sql);
  if (!m) return undefined;
  const [stage, ...rest] = m[2]!.split('/');
  return { localPath: m[1]!, stage: stage!, path: rest.filter((p) => p !== '').join('/') };
}

export interface CopyCommand {
  table: string;
  stage: string;
  path: string;
  files: string[] | undefined;
  type: string;
  byName: boolean;
  force: boolean;
  purge: boolean;
}

const COPY = /^\s*COPY\s+INTO\s+((?:"(?:[^"]|"")*"|[\w$]+)(?:\.(?:"(?:[^"]|"")*"|[\w$]+))*)(?:\s*\([^)]*\))?\s+FROM\s+@([^\s/]+)((?:\/[^\s]*)?)([\s\S]*)$/i;

export function parseCopy(sql: string): CopyCommand | undefined {
  const m = COPY.exec(sql);
  if (!m) return undefined;
  const tail = m[4]!;
  const files = /\bFILES\s*=\s*\(([^)]*)\)/i.exec(tail);
  const type = /\bTYPE\s*=\s*'?(\w+)'?/i.exec(tail);
  return {
    table: m[1]!,
    stage: m[2]!,
    path: m[3]!.replace(/^\/+|\/+$/g, ''),
    files: files ? [...files[1]!.matchAll(/'([^']*)'/g)].map((f) => f[1]!) : undefined,
    type: (type?.[1] ?? 'CSV').toUpperCase(),
    byName: /\bMATCH_BY_COLUMN_NAME\s*=\s*'?CASE_(IN)?SENSITIVE/i.test(tail),
    force: /\bFORCE\s*=\s*TRUE\b/i.test(tail),
    purge: /\bPURGE\s*=\s*TRUE\b/i.test(tail),
  };
}

export interface CopyResult {
  file: string;
  rows: number;
}

export class StandInStages {
  /** Files loaded per table (`table` text as sent → stage-relative paths). */
  private readonly history = new Map<string, Set<string>>();
  /** Every PUT received, in order (for tests: names and sizes of uploads). */
  readonly uploads: { stage: string; file: string; bytes: number }[] = [];
  private work = 0;

  constructor(readonly root: string) {}

  /** The directory of a stage path (created). Stage names are taken verbatim, quotes stripped. */
  dir(stage: string, path: string): string {
    const d = join(this.root, stage.replace(/"/g, '').replace(/[^\w.%$-]/g, '_'), path);
    mkdirSync(d, { recursive: true });
    return d;
  }

  /** Files currently in a stage under `path`, stage-relative, sorted. */
  list(stage: string, path = ''): string[] {
    const base = this.dir(stage, '');
    const out: string[] = [];
    const walk = (d: string): void => {
      for (const e of readdirSync(d)) {
        const p = join(d, e);
        if (statSync(p).isDirectory()) walk(p);
        else out.push(relative(base, p));
      }
    };
    walk(this.dir(stage, path));
    return out.sort();
  }

  noteUpload(put: PutCommand, file: string): void {
    const p = join(this.dir(put.stage, put.path), file);
    this.uploads.push({ stage: put.stage, file: join(put.path, file), bytes: statSync(p).size });
  }

  /** Runs COPY INTO on `conn` (DuckDB SQL for the table name is passed in `target`). */
  async copy(conn: DuckDBConnection, cmd: CopyCommand, target: string): Promise<CopyResult[]> {
    const base = this.dir(cmd.stage, '');
    let files = this.list(cmd.stage, cmd.path);
    if (cmd.files) {
      const wanted = new Set(cmd.files.map((f) => join(cmd.path, f)));
      files = files.filter((f) => wanted.has(f));
    }
    const seen = this.history.get(cmd.table) ?? new Set<string>();
    this.history.set(cmd.table, seen);
    const out: CopyResult[] = [];
    for (const f of files) {
      if (seen.has(f) && !cmd.force) continue;
      const raw = readFileSync(join(base, f));
      const body = f.endsWith('.gz') ? gunzipSync(raw) : raw;
      const tmp = join(this.root, `.copy-${this.work++}`);
      writeFileSync(tmp, body);
      try {
        const before = await count(conn, target);
        const columns = (await conn.runAndReadAll(`SELECT * FROM ${target} LIMIT 0`)).columnCount;
        const from = reader(cmd.type, tmp, columns);
        const select = cmd.byName ? await byNameSelect(conn, target, from) : '*';
        await conn.run(`INSERT INTO ${target} ${cmd.byName ? 'BY NAME ' : ''}SELECT ${select} FROM ${from}`);
        out.push({ file: f, rows: (await count(conn, target)) - before });
      } finally {
        rmSync(tmp, { force: true });
      }
      seen.add(f);
      if (cmd.purge) rmSync(join(base, f), { force: true });
    }
    return out;
  }
}

/**
 * The select list of a MATCH_BY_COLUMN_NAME load: text loaded into a BINARY column is decoded as
 * hex, as Snowflake does with its default BINARY_FORMAT (DuckDB would keep the text's bytes).
 */
async function byNameSelect(conn: DuckDBConnection, target: string, from: string): Promise<string> {
  const describe = async (sql: string): Promise<Map<string, string>> =>
    new Map((await conn.runAndReadAll(`DESCRIBE ${sql}`)).getRows().map((r) => [String(r[0]), String(r[1])] as const));
  const targetTypes = await describe(`SELECT * FROM ${target}`);
  const fileTypes = await describe(`SELECT * FROM ${from}`);
  return [...fileTypes]
    .map(([name, type]) => {
      const q = `"${name.replace(/"/g, '""')}"`;
      return targetTypes.get(name) === 'BLOB' && type === 'VARCHAR' ? `unhex(${q}) AS ${q}` : q;
    })
    .join(', ');
}

async function count(conn: DuckDBConnection, target: string): Promise<number> {
  const r = await conn.runAndReadAll(`SELECT count(*) AS n FROM ${target}`);
  return Number(r.getRows()[0]![0]);
}

function reader(type: string, path: string, columns: number): string {
  const p = `'${path.replace(/'/g, "''")}'`;
  switch (type) {
    case 'CSV':
      return `read_csv(${p}, header = false, all_varchar = true, allow_quoted_nulls = false, quote = '"', escape = '"', delim = ',', auto_detect = false, columns = {${Array.from({ length: columns }, (_c, i) => `'c${i}': 'VARCHAR'`).join(', ')}})`;
    case 'PARQUET':
      return `read_parquet(${p})`;
    case 'JSON':
      return `read_json(${p}, format = 'newline_delimited')`;
    default:
      throw new Error(`the stand-in cannot load file format TYPE = ${type}`);
  }
}
