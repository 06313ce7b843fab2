import { Server, ServerCredentials, type ServerInterceptor } from '@grpc/grpc-js';
import { ReflectionService } from '@grpc/reflection';
import { loadSync } from '@grpc/proto-loader';
import { HealthImplementation, protoPath as healthProtoPath } from 'grpc-health-check';
import { DuctError } from '../core/errors';
import { bearerAuthInterceptor } from './auth';
import type { Logger } from '../core/log';
import { acceptEncoded } from './encoded';
import { apiProtoFiles, loadApiProtos, protoRoot, serviceDefinition } from './protos';
import { jsonNamesOf, linkedReflectionPackage } from './reflection';
import type { ApiContext, ApiServiceRegistration } from './registration';
import { API_SERVICES } from './services';

export interface ApiServer {
  /** The address actually bound, e.g. `127.0.0.1:40123`. */
  address: string;
  port: number;
  /** Marks every service SERVING (call once the process can execute work) or NOT_SERVING. */
  setServing(serving: boolean): void;
  /** Stops accepting calls, lets calls in flight finish (at most `graceMs`), then closes. */
  shutdown(graceMs?: number): Promise<void>;
}

export interface StartApiServerOptions {
  /** A grpc-js bind address (see parseListenAddress). */
  bind: string;
  ctx: ApiContext;
  log: Logger;
  services?: readonly ApiServiceRegistration[];
  /** Transport credentials (src/api/credentials.ts); default plaintext. */
  credentials?: ServerCredentials;
  /** Accepted bearer tokens; empty or unset: calls are not authenticated. */
  tokens?: readonly string[];
}

/**
 * Starts the gRPC server: every registered service (src/api/services.ts), server reflection
 * over every proto of proto/ductstream/v1/, and the standard grpc.health.v1 service, which
 * reports NOT_SERVING until {@link ApiServer.setServing} is called. With `tokens`, every call of a
 * registered service needs `authorization: Bearer <token>` (UNAUTHENTICATED otherwise); health and
 * reflection stay open.
 */
export async function startApiServer(o: StartApiServerOptions): Promise<ApiServer> {
  const pkg = loadApiProtos();
  const interceptors: ServerInterceptor[] = o.tokens && o.tokens.length > 0 ? [bearerAuthInterceptor(o.tokens, o.log)] : [];
  const server = new Server({ 'grpc.max_receive_message_length': 16 * 1024 * 1024, interceptors });
  const registrations = o.services ?? API_SERVICES;
  for (const reg of registrations) {
    const def = serviceDefinition(pkg, reg.service);
    const impl = reg.implement(o.ctx);
    const missing = Object.keys(def).filter((m) => typeof impl[m] !== 'function');
    if (missing.length > 0) throw new DuctError('internal', `${reg.service} does not implement ${missing.join(', ')}`);
    server.addService(acceptEncoded(def), impl);
  }
  // Reflection covers every proto of the package and the health service.
  const reflected = linkedReflectionPackage([pkg, loadSync(healthProtoPath, { keepCase: true })], jsonNamesOf(protoRoot(), apiProtoFiles()));
  new ReflectionService(reflected).addToServer(server);
  const names = ['', ...registrations.map((r) => r.service)];
  const health = new HealthImplementation(Object.fromEntries(names.map((n) => [n, 'NOT_SERVING' as const])));
  health.addToServer(server);

  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(o.bind, o.credentials ?? ServerCredentials.createInsecure(), (err, p) => {
      if (err)
        reject(
          new DuctError('unavailable', `DUCTSTREAM_GRPC_LISTEN: cannot listen on ${o.bind}: ${err.message}`, {
            field: 'DUCTSTREAM_GRPC_LISTEN',
            hint: 'choose a free port, or stop the process using it',
          }),
        );
      else resolve(p);
    }),
  );
  const host = o.bind.slice(0, o.bind.lastIndexOf(':'));
  const address = `${host}:${port}`;
  return {
    address,
    port,
    setServing: (serving) => names.forEach((n) => health.setStatus(n, serving ? 'SERVING' : 'NOT_SERVING')),
    shutdown: (graceMs = 5000) =>
      new Promise<void>((resolve) => {
        names.forEach((n) => health.setStatus(n, 'NOT_SERVING'));
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, graceMs);
        timer.unref();
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      }),
  };
}
