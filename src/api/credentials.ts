import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { ServerCredentials } from '@grpc/grpc-js';
import type { ApiSecurity } from '../config/env';
import { invalidArgument } from '../core/errors';

function readPem(path: string, variable: string): Buffer {
  let pem: Buffer;
  try {
    pem = readFileSync(path);
  } catch (e) {
    throw invalidArgument(variable, `cannot read ${path} (${(e as NodeJS.ErrnoException).code ?? 'error'})`, 'give the path of a readable PEM file');
  }
  if (!pem.includes('-----BEGIN ')) throw invalidArgument(variable, `${path} is not a PEM file`, 'give a PEM file (-----BEGIN ...-----)');
  return pem;
}

/**
 * The server's transport credentials: plaintext without DUCTSTREAM_GRPC_TLS_CERT, else TLS with that
 * certificate chain and DUCTSTREAM_GRPC_TLS_KEY, and with DUCTSTREAM_GRPC_TLS_CLIENT_CA mutual TLS
 * (a client must present a certificate that chains to that CA). Files that cannot be read or do not
 * match are bad input naming the variable; their contents never appear in an error.
 */
export function serverCredentialsFor(sec: ApiSecurity): { credentials: ServerCredentials; tls: 'none' | 'tls' | 'mtls' } {
  if (!sec.tlsCertPath || !sec.tlsKeyPath) return { credentials: ServerCredentials.createInsecure(), tls: 'none' };
  const cert = readPem(sec.tlsCertPath, 'DUCTSTREAM_GRPC_TLS_CERT');
  const key = readPem(sec.tlsKeyPath, 'DUCTSTREAM_GRPC_TLS_KEY');
  const ca = sec.tlsClientCaPath ? readPem(sec.tlsClientCaPath, 'DUCTSTREAM_GRPC_TLS_CLIENT_CA') : null;
  try {
    createSecureContext({ cert, key, ...(ca ? { ca } : {}) });
  } catch (e) {
    const reason = (e as { code?: string }).code ?? 'invalid';
    throw invalidArgument(
      'DUCTSTREAM_GRPC_TLS_KEY',
      `the certificate and key cannot be used together (${reason})`,
      'give the PEM certificate chain in DUCTSTREAM_GRPC_TLS_CERT and its own private key in DUCTSTREAM_GRPC_TLS_KEY',
    );
  }
  return { credentials: ServerCredentials.createSsl(ca, [{ cert_chain: cert, private_key: key }], ca !== null), tls: ca ? 'mtls' : 'tls' };
}

/** Whether a bind address only accepts connections from this machine. */
export function isLoopbackBind(bind: string): boolean {
  const host = bind
    .slice(0, bind.lastIndexOf(':'))
    .replace(/^\[|\]$/g, '')
    .toLowerCase();
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}
