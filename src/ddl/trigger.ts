import { quoteIdent } from '../source/postgres/identifiers';

/** Prefix of the logical messages the DDL event trigger writes (see {@link ddlTriggerStatements}). */
export const DDL_MESSAGE_PREFIX = 'ductstream_ddl';
export const DDL_TRIGGER_NAME = 'ductstream_ddl_capture';
export const DDL_DROP_TRIGGER_NAME = 'ductstream_ddl_drop_capture';

/** What the trigger writes for each changed table: JSON with the command tag, the table and the statement. */
export interface DdlMessage {
  tag: string;
  schema: string;
  table: string;
  ddl: string;
}

/**
 * SQL that installs (or replaces) event triggers writing each CREATE/ALTER/DROP TABLE into the WAL
 * with `pg_logical_emit_message(true, 'ductstream_ddl', json)`: transactional, so the message is
 * decoded in order inside the DDL's transaction, at its LSN. The function lives in `schema`
 * (DuctStream's internal schema on the source). Needs a superuser. Idempotent.
 */
export function ddlTriggerStatements(schema: string): string[] {
  const s = quoteIdent(schema);
  const emit = `PERFORM pg_logical_emit_message(true, '${DDL_MESSAGE_PREFIX}',
        json_build_object('tag', r.command_tag, 'schema', r.schema_name, 'table', r.object_identity, 'ddl', current_query())::text)`;
  return [
    `CREATE SCHEMA IF NOT EXISTS ${s}`,
    `CREATE OR REPLACE FUNCTION ${s}.emit_ddl() RETURNS event_trigger LANGUAGE plpgsql AS $fn$
DECLARE r record;
BEGIN
  FOR r IN SELECT c.command_tag, c.schema_name, c.object_identity FROM pg_event_trigger_ddl_commands() c WHERE c.object_type = 'table' LOOP
    ${emit};
  END LOOP;
END $fn$`,
    `CREATE OR REPLACE FUNCTION ${s}.emit_ddl_drop() RETURNS event_trigger LANGUAGE plpgsql AS $fn$
DECLARE r record;
BEGIN
  FOR r IN SELECT 'DROP TABLE'::text AS command_tag, d.schema_name, d.object_identity FROM pg_event_trigger_dropped_objects() d WHERE d.object_type = 'table' AND d.original LOOP
    ${emit};
  END LOOP;
END $fn$`,
    `DROP EVENT TRIGGER IF EXISTS ${DDL_TRIGGER_NAME}`,
    `CREATE EVENT TRIGGER ${DDL_TRIGGER_NAME} ON ddl_command_end WHEN TAG IN ('ALTER TABLE', 'CREATE TABLE') EXECUTE FUNCTION ${s}.emit_ddl()`,
    `DROP EVENT TRIGGER IF EXISTS ${DDL_DROP_TRIGGER_NAME}`,
    `CREATE EVENT TRIGGER ${DDL_DROP_TRIGGER_NAME} ON sql_drop WHEN TAG IN ('DROP TABLE') EXECUTE FUNCTION ${s}.emit_ddl_drop()`,
  ];
}

/** Parses a trigger message; undefined when it is not one (another tool's message with our prefix). */
export function parseDdlMessage(content: Buffer): DdlMessage | undefined {
  try {
    const v = JSON.parse(content.toString('utf8')) as Partial<DdlMessage>;
    if (typeof v.tag !== 'string' || typeof v.table !== 'string') return undefined;
    const dot = v.table.indexOf('.');
    const schema = typeof v.schema === 'string' && v.schema ? v.schema : v.table.slice(0, dot);
    const table = unquote(v.table.slice(dot + 1));
    return { tag: v.tag, schema: unquote(schema), table, ddl: typeof v.ddl === 'string' ? v.ddl : '' };
  } catch {
    return undefined;
  }
}

function unquote(s: string): string {
  return s.startsWith('"') && s.endsWith('"') ? s.slice(1, -1).replace(/""/g, '"') : s;
}
