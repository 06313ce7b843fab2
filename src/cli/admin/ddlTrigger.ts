import type { Flow } from '../../core/flow';
import { ddlTriggerStatements } from '../../ddl/trigger';
import { parsePostgresSourceConfig } from '../../source/postgres/config';
import { connectClient, endQuietly } from '../../source/postgres/connect';
import { DuctError } from '../../core/errors';

/** Installs the DDL capture event trigger on the flow's source database (see ddlTriggerStatements). */
export async function installDdlTrigger(flow: Flow): Promise<void> {
  const config = parsePostgresSourceConfig(flow.source.options, 'source.options');
  const client = await connectClient(config.dsn, 'source.options.dsn', { applicationName: 'ductstream-admin' });
  try {
    for (const sql of ddlTriggerStatements(config.stateSchema)) await client.query(sql);
  } catch (e) {
    const code = (e as { code?: string }).code;
    throw new DuctError('failed_precondition', `installing the DDL event trigger failed: ${(e as Error).message}`, {
      retry: 'never',
      hint: code === '42501' ? 'event triggers need a superuser: run it with a superuser DSN' : undefined,
    });
  } finally {
    await endQuietly(client);
  }
}
