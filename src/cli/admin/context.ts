import { hostname } from 'node:os';
import type { AppState } from '../../state/open';
import { readServiceEnv, type ServiceEnv } from '../../config/env';
import type { DBOSClient } from '@dbos-inc/dbos-sdk';
import type { DdlService } from '../../services/ddl/service';
import type { StreamService } from '../../services/streams';
import { UsageError } from '../flags';
import type { AdminIo } from './command';
import { withIdleTransactionTimeout } from '../../workflows/systemDatabaseUrl';

/**
 * What a subcommand works with: the environment, output, and the stores and service modules it
 * opens on demand (closed when the command ends). Nothing here needs a server.
 */
export class AdminContext {
  private state?: AppState;
  private streams?: StreamService;
  private env?: ServiceEnv;
  private dbos?: Promise<DBOSClient>;

  constructor(readonly io: AdminIo) {}

  serviceEnv(): ServiceEnv {
    this.env ??= readServiceEnv(this.io.env);
    return this.env;
  }

  /** The flow and checkpoint stores on DUCTSTREAM_POSTGRES_DSN; bad input when it is unset. */
  async appState(why: string): Promise<AppState> {
    if (this.state) return this.state;
    const env = this.serviceEnv();
    if (!env.postgresDsn) throw new UsageError(`DUCTSTREAM_POSTGRES_DSN is required ${why}; set it to the database where flows live`);
    // Loaded on demand (knex, pg): bad flags are refused without loading them.
    const { openAppState } = await import('../../state/open');
    this.state = await openAppState(env);
    return this.state;
  }

  /**
   * The stream service: streams are found through the flows (DUCTSTREAM_POSTGRES_DSN), or all
   * served from `dsn` when given (the `-dsn` flag).
   */
  async streamService(dsn: string | undefined): Promise<StreamService> {
    if (this.streams) return this.streams;
    const { StreamService } = await import('../../services/streams');
    if (dsn !== undefined) {
      if (!/^postgres(ql)?:\/\//i.test(dsn)) throw new UsageError('flag -dsn: is not a postgres:// URL; use postgres://user:pass@host:5432/db');
      this.streams = new StreamService({ dsn, poolMax: 2 });
    } else {
      const state = await this.appState("to find the stream's database from the flows (or pass -dsn)");
      this.streams = new StreamService({ flows: state.flows, poolMax: 2 });
    }
    return this.streams;
  }

  /** DDL governance on the state database; decisions wake the event's approval workflow through DBOS. */
  async ddlService(): Promise<DdlService> {
    const state = await this.appState('to find DDL events');
    const { DdlService } = await import('../../services/ddl/service');
    const { DDL_TOPIC, ddlWorkflowId } = await import('../../workflows/ddlIds');
    return new DdlService(state.ddl!, async (id, action) => {
      const client = await this.dbosClient();
      if (client) await client.send(ddlWorkflowId(id), action, DDL_TOPIC);
    });
  }

  /** A DBOS client on the system database (undefined when it cannot be reached: workflows poll anyway). */
  async dbosClient(): Promise<DBOSClient | undefined> {
    const env = this.serviceEnv();
    if (!env.dbosSystemDatabaseUrl) return undefined;
    if (!this.dbos) {
      const { DBOSClient } = await import('@dbos-inc/dbos-sdk');
      this.dbos = DBOSClient.create({ systemDatabaseUrl: withIdleTransactionTimeout(env.dbosSystemDatabaseUrl), applicationName: env.dbosApp });
    }
    return this.dbos.catch(() => undefined);
  }

  /** Who runs this command, recorded as the actor of DDL decisions. */
  actor(): string {
    return `${this.io.env.USER ?? 'admin'}@${hostname()}`;
  }

  /** Who this process is, recorded on the deliveries it leases. */
  consumerId(): string {
    return `${'ductstream-admin'}@${hostname()}:${process.pid}`;
  }

  out(text: string): void {
    this.io.stdout(text.endsWith('\n') ? text : `${text}\n`);
  }

  json(value: unknown): void {
    this.out(JSON.stringify(value, null, 2));
  }

  async close(): Promise<void> {
    await this.streams?.close();
    const dbos = await this.dbos?.catch(() => undefined);
    await dbos?.destroy().catch(() => undefined);
    await this.state?.close();
  }
}
