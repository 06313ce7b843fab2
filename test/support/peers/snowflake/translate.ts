/**
 * The Snowflake SQL the stand-in receives, translated narrowly into DuckDB SQL: only the
 * constructs the snowflake and snowpipe destinations send (and the tests read with). Anything
 * else passes through unchanged and fails in DuckDB if it is not DuckDB SQL too, so a statement
 * the destinations start sending shows up as a test failure rather than a silent mistranslation.
 *
 * It is not a Snowflake emulator: the destinations' statements are also pinned against
 * Snowflake's documented syntax in test/unit/snowflake-statements.test.ts.
 */

/** Snowflake type names → DuckDB type names (in DDL and casts). */
const TYPE_RULES: [RegExp, string][] = [
  [/\bNUMBER\s*\(\s*(\d+)\s*,\s*(\d+)\s*\)/gi, 'DECIMAL($1,$2)'],
  [/\bTIMESTAMP_TZ\s*\(\s*\d+\s*\)/gi, 'TIMESTAMPTZ'],
  [/\bTIMESTAMP_NTZ\s*\(\s*\d+\s*\)/gi, 'TIMESTAMP'],
  [/\bTIMESTAMP_TZ\b/gi, 'TIMESTAMPTZ'],
  [/\bTIMESTAMP_NTZ\b/gi, 'TIMESTAMP'],
  [/\bTIME\s*\(\s*\d+\s*\)/gi, 'TIME'],
  [/\bVARIANT\b/gi, 'JSON'],
  // Snowflake's FLOAT is 64-bit (DuckDB's FLOAT is 32-bit).
  [/\bFLOAT\b/gi, 'DOUBLE'],
  [/\bBINARY\b/gi, 'BLOB'],
  // `ARRAY` as a column type or cast target (never ARRAY_... functions).
  [/\bARRAY\b(?!_|\s*\()/gi, 'JSON'],
];

const FUNCTION_RULES: [RegExp, string][] = [
  // TO_BINARY(x, 'HEX') → unhex(x)
  [/\bTO_BINARY\s*\(/gi, 'sf_to_binary('],
  [/\bPARSE_JSON\s*\(/gi, 'sf_parse_json('],
  [/\bCURRENT_TIMESTAMP\s*\(\s*\)/gi, 'current_timestamp'],
  [/\bTO_TIMESTAMP_TZ\s*\(/gi, 'sf_to_timestamp_tz('],
  [/\bTO_TIMESTAMP_NTZ\s*\(/gi, 'sf_to_timestamp_ntz('],
];

/** Macros the translated SQL calls; created once per database. */
export const STAND_IN_MACROS = [
  `CREATE OR REPLACE MACRO sf_to_binary(x, f) AS unhex(x)`,
  `CREATE OR REPLACE MACRO sf_parse_json(x) AS CAST(x AS JSON)`,
  `CREATE OR REPLACE MACRO sf_to_timestamp_tz(x) AS CAST(x AS TIMESTAMPTZ)`,
  `CREATE OR REPLACE MACRO sf_to_timestamp_ntz(x) AS CAST(x AS TIMESTAMP)`,
];

/** Replaces outside string literals and quoted identifiers only. */
function mapCode(sql: string, fn: (code: string) => string): string {
  let out = '';
  let i = 0;
  while (i < sql.length) {
    const ch = sql[i]!;
    if (ch === "'" || ch === '"') {
      let j = i + 1;
      while (j < sql.length) {
        if (sql[j] === ch) {
          if (sql[j + 1] === ch) j += 2;
          else break;
        } else j++;
      }
      out += sql.slice(i, j + 1);
      i = j + 1;
      continue;
    }
    let j = i;
    while (j < sql.length && sql[j] !== "'" && sql[j] !== '"') j++;
    out += fn(sql.slice(i, j));
    i = j;
  }
  return out;
}

/** Snowflake → DuckDB for one statement (not PUT/COPY: the stand-in handles those itself). */
export function translate(sql: string): string {
  // Snowflake records primary keys but does not enforce them (and DuckDB's MERGE is slow on indexed
  // tables): a CREATE TABLE loses its key here (keys.ts keeps it). The key's column list holds quoted
  // identifiers, so this runs on the whole statement, before literals and identifiers are set apart.
  const unkeyed = /^\s*CREATE\b[^(]*\bTABLE\b/i.test(sql) ? sql.replace(/,\s*PRIMARY\s+KEY\s*\((?:"(?:[^"]|"")*"|[^)"])*\)/gi, '') : sql;
  return mapCode(unkeyed, (code) => {
    let c = code;
    c = c.replace(/\bDATA_RETENTION_TIME_IN_DAYS\s*=\s*\d+/gi, '');
    c = c.replace(/\bCREATE\s+(OR\s+REPLACE\s+)?TRANSIENT\s+TABLE\b/gi, (_m, r: string | undefined) => `CREATE ${r ?? ''}TABLE`);
    for (const [re, to] of TYPE_RULES) c = c.replace(re, to);
    for (const [re, to] of FUNCTION_RULES) c = c.replace(re, to);
    return c;
  });
}

/** Statements the stand-in accepts and ignores (session settings, warehouse use). */
export function isIgnored(sql: string): boolean {
  return /^\s*(ALTER\s+SESSION|USE\s+(WAREHOUSE|ROLE)|CREATE\s+(OR\s+REPLACE\s+)?STAGE|CREATE\s+STAGE)\b/i.test(sql);
}

/** Replaces `?` placeholders (outside literals and quoted identifiers) with text literals, in order. */
export function inlineBinds(sql: string, values: (string | null)[]): string {
  let n = 0;
  return mapCode(sql, (code) =>
    code.replace(/\?/g, () => {
      const v = values[n++];
      return v === null || v === undefined ? 'NULL' : `'${v.replace(/'/g, "''")}'`;
    }),
  );
}
