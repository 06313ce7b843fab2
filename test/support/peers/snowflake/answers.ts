/** JSON answers of the Snowflake stand-in, in the shapes the snowflake-sdk parses. */
import { randomUUID } from 'node:crypto';

export function errorAnswer(code: string, message: string): unknown {
  return { success: false, code, message, data: { sqlState: '42000', queryId: randomUUID(), errorCode: code } };
}

/** A result set: every value as text (booleans "1"/"0"), columns typed with Snowflake type names. */
export function rowsetAnswer(names: string[], types: string[], rows: (string | null)[][], statementTypeId: number, scales: number[] = []): unknown {
  return {
    success: true,
    data: {
      queryId: randomUUID(),
      rowtype: names.map((name, i) => ({
        name,
        type: types[i] ?? 'text',
        nullable: true,
        scale: scales[i] ?? 0,
        precision: types[i] === 'fixed' ? 38 : 0,
        length: types[i] === 'text' ? 16777216 : null,
        byteLength: null,
        database: '',
        schema: '',
        table: '',
      })),
      rowset: rows,
      total: rows.length,
      returned: rows.length,
      statementTypeId,
      version: 1,
      queryResultFormat: 'json',
      parameters: [],
      finalDatabaseName: 'DB',
      finalSchemaName: 'PUBLIC',
    },
  };
}
