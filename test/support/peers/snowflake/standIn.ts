/**
 * A Snowflake stand-in for tests: there is no local Snowflake, so this small HTTP server speaks
 * the part of Snowflake's REST protocol the real `snowflake-sdk` uses (login, query-request with
 * JSON rowsets and bindings, PUT to a `LOCAL_FS` stage, telemetry, session delete) and executes the
 * SQL it receives on an in-process DuckDB, translated narrowly (translate.ts). Key-pair logins are
 * checked against a public key when one is given. It is NOT Snowflake: tests that use it say
 * "stand-in" in their names, and statements are also pinned against Snowflake's documented syntax
 * in unit tests.
 *
 * The driver connects with `host=127.0.0.1`, `port`, `protocol=http` (see {@link SnowflakeStandIn.dsn}).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createPublicKey, randomUUID, verify, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { DuckDBInstance, type DuckDBConnection, type DuckDBValue } from '@duckdb/node-api';
import { StandInStages, parseCopy, parsePut } from './stage';
import { inlineBinds, isIgnored, STAND_IN_MACROS, translate } from './translate';
import { errorAnswer, rowsetAnswer } from './answers';
import { StandInKeys } from './keys';
import { refusedRetype } from './alter';

export interface StandInOptions {
  account?: string;
  user?: string;
  password?: string;
  /** PEM public key: logins with SNOWFLAKE_JWT must be signed by its private key. */
  publicKeyPem?: string;
}

interface Session {
  conn: DuckDBConnection;
  /** Serializes this session's statements (the driver may send the next before an answer is read). */
  tail: Promise<unknown>;
}

export class SnowflakeStandIn {
  readonly stages: StandInStages;
  /** Primary keys the tables record (Snowflake keeps them as metadata; DuckDB's tables have none). */
  readonly keys = new StandInKeys();
  /** Every SQL text received, in order (tests count statements). */
  readonly statements: string[] = [];
  private readonly pending: { put: NonNullable<ReturnType<typeof parsePut>>; file: string }[] = [];
  private readonly sessions = new Map<string, Session>();
  private readonly publicKey: KeyObject | undefined;
  private reader: DuckDBConnection | undefined;
  /** When set, the next query-request gets this error code (outage tests). */
  failNext: { code: string; message: string } | undefined;

  private constructor(
    private readonly server: Server,
    private readonly db: DuckDBInstance,
    private readonly dir: string,
    readonly port: number,
    private readonly opts: Required<Omit<StandInOptions, 'publicKeyPem'>> & Pick<StandInOptions, 'publicKeyPem'>,
  ) {
    this.stages = new StandInStages(join(dir, 'stages'));
    this.publicKey = opts.publicKeyPem ? createPublicKey(opts.publicKeyPem) : undefined;
  }

  static async start(options: StandInOptions = {}): Promise<SnowflakeStandIn> {
    const dir = mkdtempSync(join(tmpdir(), 'ductstream-snowflake-standin-'));
    const db = await DuckDBInstance.create(':memory:');
    const setup = await db.connect();
    for (const m of STAND_IN_MACROS) await setup.run(m);
    setup.closeSync();
    const holder: { self?: SnowflakeStandIn } = {};
    const server = createServer((req, res) => {
      void holder.self!.handle(req, res);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    const opts = { account: 'standin', user: 'ductstream', password: 'stand-in-secret', ...options };
    holder.self = new SnowflakeStandIn(server, db, dir, port, opts);
    return holder.self;
  }

  /** A destination `dsn` reaching this stand-in, for `database`/`schema` (password auth unless `auth` is `none`). */
  dsn(database = 'DB', schema = 'PUBLIC', auth: 'password' | 'none' = 'password'): string {
    const cred = auth === 'password' ? `${this.opts.user}:${this.opts.password}` : this.opts.user;
    return `snowflake://${cred}@${this.opts.account}/${database}/${schema}?warehouse=WH&role=LOADER&host=127.0.0.1&port=${this.port}&protocol=http`;
  }

  /** Bytes of every file uploaded with PUT so far (as stored: gzip). */
  get uploadedBytes(): number {
    this.notePending();
    return this.stages.uploads.reduce((n, u) => n + u.bytes, 0);
  }

  private notePending(): void {
    for (const p of this.pending.splice(0)) {
      try {
        this.stages.noteUpload(p.put, p.file);
      } catch {
        // the PUT failed: nothing was uploaded.
      }
    }
  }

  /** Runs DuckDB SQL directly on the stand-in's database (tests read back with it). */
  async query(sql: string): Promise<Record<string, DuckDBValue>[]> {
    this.reader ??= await this.db.connect();
    const r = await this.reader.runAndReadAll(sql);
    return r.getRowObjects();
  }

  /**
   * Runs one Snowflake statement as a person would in a Snowflake session (key metadata kept,
   * translated for DuckDB): the manual steps of a test.
   */
  async snowflakeSql(sql: string): Promise<void> {
    const answer = this.keys.handle(sql) as { success?: boolean; message?: string } | undefined;
    if (answer !== undefined) {
      if (answer.success === false) throw new Error(answer.message);
      return;
    }
    await this.query(translate(sql));
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const s of this.sessions.values()) s.conn.closeSync();
    this.sessions.clear();
    this.reader?.closeSync();
    this.db.closeSync();
    rmSync(this.dir, { recursive: true, force: true });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://stand-in');
    const body = await readBody(req);
    const send = (answer: unknown): void => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(answer));
    };
    try {
      if (url.pathname === '/session/v1/login-request') return send(await this.login(body));
      if (url.pathname === '/queries/v1/query-request') {
        const session = this.session(req);
        if (!session) return send(errorAnswer('390112', 'Your session has expired. Please login again.'));
        const run = session.tail.then(() => this.execute(session, body as QueryBody));
        session.tail = run.catch(() => undefined);
        return send(await run);
      }
      if (url.pathname === '/session' && url.searchParams.get('delete') === 'true') {
        const token = tokenOf(req);
        const s = token ? this.sessions.get(token) : undefined;
        if (s && token) {
          await s.tail;
          s.conn.closeSync();
          this.sessions.delete(token);
        }
        return send({ success: true, data: null });
      }
      // telemetry, heartbeat, token renewal: accepted.
      return send({ success: true, data: {} });
    } catch (e) {
      return send(errorAnswer('000603', e instanceof Error ? e.message : String(e)));
    }
  }

  private async login(body: unknown): Promise<unknown> {
    const data = (body as { data?: Record<string, unknown> }).data ?? {};
    const text = (v: unknown): string => (typeof v === 'string' ? v : '');
    if (text(data.LOGIN_NAME).toLowerCase() !== this.opts.user.toLowerCase()) {
      return errorAnswer('390100', 'Incorrect username or password was specified.');
    }
    if (data.AUTHENTICATOR === 'SNOWFLAKE_JWT') {
      if (!this.publicKey || !verifyJwt(text(data.TOKEN), this.publicKey)) return errorAnswer('390144', 'JWT token is invalid.');
    } else if (data.PASSWORD !== this.opts.password) {
      return errorAnswer('390100', 'Incorrect username or password was specified.');
    }
    const token = randomUUID();
    this.sessions.set(token, { conn: await this.db.connect(), tail: Promise.resolve() });
    return {
      success: true,
      data: {
        token,
        masterToken: randomUUID(),
        validityInSeconds: 3600,
        masterValidityInSeconds: 14400,
        sessionId: Math.floor(Math.random() * 1e9),
        parameters: [{ name: 'TIMEZONE', value: 'UTC' }],
        sessionInfo: { databaseName: 'DB', schemaName: 'PUBLIC', warehouseName: 'WH', roleName: 'LOADER' },
      },
    };
  }

  private session(req: IncomingMessage): Session | undefined {
    const token = tokenOf(req);
    return token ? this.sessions.get(token) : undefined;
  }

  private async execute(session: Session, body: QueryBody): Promise<unknown> {
    const sql = body.sqlText.trim();
    this.statements.push(sql);
    this.notePending();
    if (this.failNext) {
      const f = this.failNext;
      this.failNext = undefined;
      return errorAnswer(f.code, f.message);
    }
    const put = parsePut(sql);
    if (put) {
      const location = this.stages.dir(put.stage, put.path) + '/';
      // The driver copies the file after this answer and before its next statement.
      this.pending.push({ put, file: put.localPath.split('/').pop()! });
      return {
        success: true,
        data: {
          command: 'UPLOAD',
          src_locations: [put.localPath],
          autoCompress: false,
          sourceCompression: 'auto_detect',
          parallel: 1,
          overwrite: true,
          stageInfo: { locationType: 'LOCAL_FS', location, path: put.path, region: null, creds: {} },
          encryptionMaterial: null,
          queryId: randomUUID(),
        },
      };
    }
    try {
      const copy = parseCopy(sql);
      if (copy) {
        const loaded = await this.stages.copy(session.conn, copy, translate(copy.table));
        return rowsetAnswer(
          ['file', 'status', 'rows_parsed', 'rows_loaded'],
          ['text', 'text', 'fixed', 'fixed'],
          loaded.map((l) => [l.file, 'LOADED', String(l.rows), String(l.rows)]),
          0x3000,
        );
      }
      const keyAnswer = this.keys.handle(sql) ?? (await refusedRetype(session.conn, sql));
      if (keyAnswer !== undefined) return keyAnswer;
      if (isIgnored(sql)) return rowsetAnswer(['status'], ['text'], [['Statement executed successfully.']], 0x6000);
      const values = bindValues(body.bindings);
      // Binds are inlined as text literals: DuckDB plans a statement with thousands of parameters slowly.
      const result = await session.conn.run(translate(values.length > 0 ? inlineBinds(sql, values) : sql));
      return rowsetAnswer(
        result.columnNames(),
        result.columnTypes().map((t) => snowflakeTypeOf(String(t))),
        (await result.getRows()).map((r) => r.map(textOf)),
        statementTypeOf(sql),
        result.columnTypes().map((t) => scaleOf(String(t))),
      );
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      return errorAnswer(errorCodeOf(message), `SQL execution error (stand-in): ${message.split('\n')[0]}`);
    }
  }
}

interface QueryBody {
  sqlText: string;
  bindings?: Record<string, { type: string; value: unknown }>;
}

function bindValues(bindings: QueryBody['bindings']): (string | null)[] {
  if (!bindings) return [];
  return Object.keys(bindings)
    .sort((a, b) => Number(a) - Number(b))
    .map((k) => {
      const v = bindings[k]!.value;
      return v === null || v === undefined ? null : typeof v === 'string' ? v : JSON.stringify(v);
    });
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  let buf = Buffer.concat(chunks);
  if (buf.length === 0) return {};
  if (req.headers['content-encoding'] === 'gzip' || (buf[0] === 0x1f && buf[1] === 0x8b)) buf = gunzipSync(buf);
  return JSON.parse(buf.toString('utf8'));
}

function tokenOf(req: IncomingMessage): string | undefined {
  const m = /Snowflake Token="([^"]+)"/.exec(req.headers.authorization ?? '');
  return m?.[1];
}

function verifyJwt(token: string, key: KeyObject): boolean {
  const [header, payload, signature] = token.split('.');
  if (!header || !payload || !signature) return false;
  return verify('RSA-SHA256', Buffer.from(`${header}.${payload}`), key, Buffer.from(signature, 'base64url'));
}

function snowflakeTypeOf(duck: string): string {
  if (duck === 'BOOLEAN') return 'boolean';
  if (/^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|DECIMAL)/.test(duck)) return 'fixed';
  if (duck === 'FLOAT' || duck === 'DOUBLE') return 'real';
  return 'text';
}

function scaleOf(duck: string): number {
  const m = /^DECIMAL\(\d+,(\d+)\)/.exec(duck);
  return m ? Number(m[1]) : 0;
}

function textOf(v: DuckDBValue): string | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'boolean') return v ? '1' : '0';
  return String(v);
}

function statementTypeOf(sql: string): number {
  const verb = /^\s*(\w+)/.exec(sql)?.[1]?.toUpperCase();
  if (verb === 'SELECT' || verb === 'WITH') return 0x1000;
  if (verb === 'INSERT') return 0x3100;
  if (verb === 'UPDATE') return 0x3200;
  if (verb === 'DELETE') return 0x3300;
  if (verb === 'MERGE') return 0x3400;
  return 0x6000;
}

/** Snowflake error codes for DuckDB's error classes (the destination classifies by them). */
function errorCodeOf(message: string): string {
  if (/^Catalog Error/i.test(message)) return '002003';
  if (/^Parser Error/i.test(message)) return '001003';
  if (/^Conversion Error|^Invalid Input Error/i.test(message)) return '100038';
  if (/^Constraint Error/i.test(message)) return '100116';
  if (/^TransactionContext Error|Conflict/i.test(message)) return '000625';
  return '100000';
}
