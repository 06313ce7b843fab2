/**
 * End-to-end CDC into an HTTP webhook (see bench/cdcEvents.ts for the phases and what is measured):
 * the http destination, one POST per change with its idempotency key, against a webhook peer in a
 * child process (this file run with --peer: a Node http server answering 200 over keep-alive).
 *
 *   npm run build && node dist/bench/cdc-http.js [--rows 100000] [--seconds 10] [--format json]
 *     [--parallelism 8] [--mode change|batch] [--batch-size 1000] [--batch-timeout 100ms]
 */
import { fork } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseWireFormat } from '../src/wire/registry';
import { runEventBench } from './cdcEvents';
import { arg } from './support';

/** The peer: answers every request 200 once its body is read; reports its port to the parent. */
function servePeer(): void {
  let requests = 0;
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      requests++;
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end('{"ok":true}');
    });
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1', () => process.send!({ port: (server.address() as AddressInfo).port }));
  process.on('message', () => {
    process.send!({ requests });
    server.close(() => process.exit(0));
    server.closeAllConnections();
  });
}

async function main(): Promise<void> {
  const peer = fork(__filename, ['--peer'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const port = await new Promise<number>((resolve) => peer.once('message', (m: { port: number }) => resolve(m.port)));
  try {
    const mode = arg('mode', 'change');
    await runEventBench({
      title: `bench/cdc-http (webhook peer in a child process, mode=${mode})`,
      type: 'http',
      wireFormat: parseWireFormat(arg('format', 'json'), '--format'),
      parallelism: Number(arg('parallelism', '8')),
      options: (flowId) => ({ url: `http://127.0.0.1:${port}/${flowId}`, mode, headers: 'Authorization:Bearer bench' }),
    });
  } finally {
    const done = new Promise<{ requests: number }>((resolve) => peer.once('message', resolve));
    peer.send('stop');
    process.stdout.write(`webhook peer answered ${(await done).requests} requests\n`);
  }
}

if (process.argv.includes('--peer')) servePeer();
else
  main().catch((e: unknown) => {
    process.stderr.write(`bench failed: ${e instanceof Error ? e.stack : String(e)}\n`);
    process.exit(1);
  });
