import type { Client, Connection } from 'pg';
import { describeError } from '../../../core/errors';

/**
 * `COPY (…) TO STDOUT` on a node pg client as a custom query (node pg runs any object with
 * `submit`): each CopyData message (one row in text and csv formats) is handed to `onRow` as
 * `buf[start..end)`, synchronously, while it lies in node pg's receive buffer (valid only during
 * the call: decode it there). Resolves with the number of rows once the server is ready again;
 * rejects with the server's error, or with the first error `onRow` threw (the rest of the output
 * is then drained and ignored, so the connection stays usable).
 */
export function copyOut(client: Client, sql: string, onRow: (buf: Buffer, start: number, end: number) => void): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    let rows = 0;
    let failure: unknown;
    let settled = false;
    const settle = (e: unknown): void => {
      if (settled) return;
      settled = true;
      if (e === undefined) resolve(rows);
      else reject(e instanceof Error ? e : new Error(describeError(e)));
    };
    const query = {
      submit(connection: Connection): void {
        connection.query(sql);
      },
      handleCopyData(msg: { chunk: Buffer }): void {
        if (failure !== undefined) return;
        try {
          onRow(msg.chunk, 0, msg.chunk.length);
          rows++;
        } catch (e) {
          failure = e;
        }
      },
      handleCopyInResponse(connection: Connection): void {
        (connection as Connection & { sendCopyFail(message: string): void }).sendCopyFail('this query only reads (COPY TO STDOUT)');
      },
      handleRowDescription(): void {},
      handleDataRow(): void {},
      handlePortalSuspended(): void {},
      handleEmptyQuery(): void {},
      handleCommandComplete(): void {},
      // A server error arrives before ReadyForQuery; a lost connection never gets one.
      handleError(e: unknown): void {
        failure ??= e;
        settle(failure);
      },
      handleReadyForQuery(): void {
        settle(failure);
      },
    };
    client.query(query);
  });
}
