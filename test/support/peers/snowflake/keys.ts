/**
 * Primary key metadata in the Snowflake stand-in. Snowflake records a table's primary key without
 * enforcing it; the stand-in's DuckDB tables are created without one (translate.ts strips it), so
 * the key is kept here: from `CREATE TABLE … PRIMARY KEY (…)`, `ALTER TABLE … ADD PRIMARY KEY (…)`
 * and `ALTER TABLE … DROP PRIMARY KEY` (an error when the table has none, or already has one on
 * ADD, as in Snowflake), forgotten on `DROP TABLE`, and answered to `SHOW PRIMARY KEYS IN TABLE`
 * with Snowflake's columns (`column_name`, `key_sequence`, …).
 */
import { errorAnswer, rowsetAnswer } from './answers';

const NAME = String.raw`((?:"(?:[^"]|"")+"|[A-Za-z_][\w$]*)(?:\.(?:"(?:[^"]|"")+"|[A-Za-z_][\w$]*))*)`;
const CREATE = new RegExp(String.raw`^CREATE\s+(?:OR\s+REPLACE\s+)?(?:TRANSIENT\s+)?TABLE\s+(IF\s+NOT\s+EXISTS\s+)?${NAME}\s*\(([\s\S]*)\)\s*$`, 'i');
const DROP_TABLE = new RegExp(String.raw`^DROP\s+TABLE\s+(?:IF\s+EXISTS\s+)?${NAME}\s*$`, 'i');
const ADD_KEY = new RegExp(String.raw`^ALTER\s+TABLE\s+${NAME}\s+ADD\s+PRIMARY\s+KEY\s*\(([^)]*)\)\s*$`, 'i');
const DROP_KEY = new RegExp(String.raw`^ALTER\s+TABLE\s+${NAME}\s+DROP\s+PRIMARY\s+KEY\s*$`, 'i');
const SHOW = new RegExp(String.raw`^SHOW\s+PRIMARY\s+KEYS\s+IN\s+TABLE\s+${NAME}\s*$`, 'i');

/** `"S"."T"` or `S.T` → the parts without quotes (unquoted parts upper-cased, as Snowflake does). */
function parts(name: string): string[] {
  return (name.match(/"(?:[^"]|"")+"|[^.]+/g) ?? []).map((p) => (p.startsWith('"') ? p.slice(1, -1).replace(/""/g, '"') : p.toUpperCase()));
}

function columnList(text: string): string[] {
  return parts(text.replace(/\s*,\s*/g, '.'));
}

export class StandInKeys {
  private readonly keys = new Map<string, string[]>();

  /** The recorded key of a table (`schema`, `name` as created), for tests. */
  keyOf(schema: string, name: string): string[] {
    return this.keys.get(JSON.stringify([schema, name])) ?? [];
  }

  /**
   * Notes what `sql` does to key metadata. Returns the answer for statements the stand-in handles
   * here alone (ALTER … PRIMARY KEY, SHOW PRIMARY KEYS); undefined when DuckDB runs the statement.
   * A `CREATE TABLE IF NOT EXISTS` of a table with a recorded key leaves the key as it is.
   */
  handle(sql: string): unknown {
    let m = CREATE.exec(sql);
    if (m) {
      const id = this.id(m[2]!);
      const key = /PRIMARY\s+KEY\s*\(([^)]*)\)/i.exec(m[3]!);
      if (!m[1] || !this.keys.has(id)) {
        if (key) this.keys.set(id, columnList(key[1]!));
        else this.keys.delete(id);
      }
      return undefined;
    }
    if ((m = DROP_TABLE.exec(sql))) {
      this.keys.delete(this.id(m[1]!));
      return undefined;
    }
    if ((m = ADD_KEY.exec(sql))) {
      const id = this.id(m[1]!);
      if (this.keys.has(id)) return errorAnswer('001999', `SQL compilation error: table ${m[1]} already has a primary key`);
      this.keys.set(id, columnList(m[2]!));
      return ok();
    }
    if ((m = DROP_KEY.exec(sql))) {
      const id = this.id(m[1]!);
      if (!this.keys.delete(id)) return errorAnswer('002262', `SQL compilation error: Constraint 'PRIMARY KEY' does not exist on ${m[1]}`);
      return ok();
    }
    if ((m = SHOW.exec(sql))) {
      const [schema, name] = JSON.parse(this.id(m[1]!)) as [string, string];
      const key = this.keys.get(this.id(m[1]!)) ?? [];
      return rowsetAnswer(
        ['created_on', 'database_name', 'schema_name', 'table_name', 'column_name', 'key_sequence', 'constraint_name'],
        ['text', 'text', 'text', 'text', 'text', 'fixed', 'text'],
        key.map((c, i) => ['', 'DB', schema, name, c, String(i + 1), `SYS_CONSTRAINT_${name}`]),
        0x6000,
      );
    }
    return undefined;
  }

  /** The last two parts of a qualified name (schema, table) as a map key. */
  private id(name: string): string {
    const p = parts(name);
    return JSON.stringify(p.slice(-2).length === 2 ? p.slice(-2) : ['PUBLIC', p[0]!]);
  }
}

function ok(): unknown {
  return rowsetAnswer(['status'], ['text'], [['Statement executed successfully.']], 0x6000);
}
