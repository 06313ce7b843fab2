import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { loadSync, type PackageDefinition, type ServiceDefinition } from '@grpc/proto-loader';
import { protoDirFromEnv } from '../config/env';
import { DuctError } from '../core/errors';

/** The proto package every DuctStream service lives in. */
export const PROTO_PACKAGE = 'ductstream.v1';
/** Where the package's files live, relative to the proto root. */
export const PROTO_PACKAGE_DIR = join('ductstream', 'v1');

/**
 * The proto root (the `proto/` folder of the repository or installed package): found by walking
 * up from this file, so it works from `src/api` (ts) and `dist/src/api` (compiled) alike.
 * DUCTSTREAM_PROTO_DIR overrides it.
 */
export function protoRoot(): string {
  const override = protoDirFromEnv();
  if (override) return override;
  for (let dir = __dirname; ; dir = dirname(dir)) {
    const candidate = join(dir, 'proto');
    if (existsSync(join(candidate, PROTO_PACKAGE_DIR))) return candidate;
    if (dirname(dir) === dir) break;
  }
  throw new DuctError('internal', `cannot find proto/${PROTO_PACKAGE_DIR} above ${__dirname}`, {
    hint: 'run from the repository or set DUCTSTREAM_PROTO_DIR to the proto root',
  });
}

/** Every `.proto` file of `proto/ductstream/v1/`, relative to the proto root, sorted. */
export function apiProtoFiles(root = protoRoot()): string[] {
  return readdirSync(join(root, PROTO_PACKAGE_DIR))
    .filter((f) => f.endsWith('.proto'))
    .sort()
    .map((f) => join(PROTO_PACKAGE_DIR, f));
}

/**
 * Loads every proto file of the package at run time (no generated code). Field names keep their
 * proto spelling (`wire_format`, `flow_id`) so messages have the shape of the JSON flow files;
 * int64 fields are strings; unset scalars read as their defaults.
 */
export function loadApiProtos(root = protoRoot()): PackageDefinition {
  return loadSync(apiProtoFiles(root), {
    includeDirs: [root],
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
    arrays: true,
    objects: false,
    oneofs: true,
  });
}

/** The service `fullName` (e.g. `ductstream.v1.FlowService`) of a loaded package definition. */
export function serviceDefinition(pkg: PackageDefinition, fullName: string): ServiceDefinition {
  const def = pkg[fullName];
  if (!def || typeof def !== 'object' || 'format' in def || !Object.values(def).every((m) => typeof m === 'object' && m !== null && 'path' in m)) {
    throw new DuctError('internal', `proto service ${fullName} is not defined in proto/${PROTO_PACKAGE_DIR}/*.proto`, {
      hint: 'check the service name in src/api/services.ts',
    });
  }
  return def;
}
