import { Client } from 'pg';
import { clientConfigFromDsn, type ConnectionOptions } from './dsn';
import { connectError } from './errors';

/**
 * Opens a node `pg` client on `dsn` with the stable session settings. A connection failure becomes
 * a DuctError naming `field` (e.g. `source.options.dsn`) with the password masked. `onError`
 * receives errors that happen later on the idle connection (a client without an error listener
 * would crash the process).
 */
export async function connectClient(dsn: string, field: string, opts: ConnectionOptions & { onError?: (e: Error) => void } = {}): Promise<Client> {
  const client = new Client(clientConfigFromDsn(dsn, opts));
  client.on('error', (e: Error) => opts.onError?.(e));
  try {
    await client.connect();
  } catch (e) {
    await client.end().catch(() => undefined);
    throw connectError(e, dsn, field);
  }
  return client;
}

/** Ends a client, never throwing and never waiting more than `timeoutMs`. */
export async function endQuietly(client: Client | undefined, timeoutMs = 2000): Promise<void> {
  if (!client) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    client.end().catch(() => undefined),
    new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        const c = client as unknown as { connection?: { stream?: { destroy?: () => void } } };
        c.connection?.stream?.destroy?.();
        resolve();
      }, timeoutMs);
    }),
  ]);
  clearTimeout(timer);
}
