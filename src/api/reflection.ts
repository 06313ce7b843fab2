import type { PackageDefinition } from '@grpc/proto-loader';
import { join } from 'node:path';
import * as protobuf from 'protobufjs';
import { FileDescriptorProto } from 'protobufjs/ext/descriptor';

/**
 * The `json_name` options of every field of the given proto files, keyed `pkg.Message.field`
 * (proto-loader drops them from its descriptors, so reflection clients would print camelCase).
 */
export function jsonNamesOf(root: string, files: string[]): Map<string, string> {
  const pb = new protobuf.Root();
  pb.resolvePath = (_origin, target) => (target.startsWith('google/protobuf/') ? target : join(root, target));
  pb.loadSync(files, { keepCase: true });
  const out = new Map<string, string>();
  const walk = (ns: protobuf.NamespaceBase): void => {
    for (const child of ns.nestedArray) {
      if (child instanceof protobuf.Type) {
        for (const f of child.fieldsArray) {
          const jn: unknown = f.options?.json_name;
          if (typeof jn === 'string') out.set(`${child.fullName.slice(1)}.${f.name}`, jn);
        }
      }
      if (child instanceof protobuf.Namespace) walk(child);
    }
  };
  walk(pb);
  return out;
}

/**
 * proto-loader's file descriptors (one synthesized file per package, e.g. `ductstream_v1.proto`)
 * have an empty `dependency` list (grpc/grpc-node#2595), so a reflection client (buf curl,
 * grpcurl) that links them cannot resolve `google.protobuf.Timestamp` and fails. This fills each
 * file's dependencies from the types its fields and methods reference, and returns a package
 * definition holding every file (all `defs` merged) for `ReflectionService`.
 */
export function linkedReflectionPackage(defs: PackageDefinition[], jsonNames: ReadonlyMap<string, string> = new Map()): PackageDefinition {
  const files = new Map<string, DescFile>();
  for (const def of defs) {
    for (const entry of Object.values(def)) {
      const protos = (entry as { fileDescriptorProtos?: unknown }).fileDescriptorProtos;
      if (!Array.isArray(protos)) continue;
      for (const bin of protos as Uint8Array[]) {
        const f = FileDescriptorProto.decode(bin) as unknown as DescFile;
        if (f.name && !files.has(f.name)) files.set(f.name, f);
      }
    }
  }
  for (const f of files.values()) for (const m of f.messageType ?? []) nameMapEntries(m);
  const symbols = new Map<string, string>();
  for (const f of files.values()) visitFile(f, { symbol: (fqn) => void symbols.set(fqn, f.name) });

  const linked: Uint8Array[] = [];
  for (const f of files.values()) {
    const deps = new Set<string>();
    // Relative names become absolute (`.pkg.Type`): Go-based clients (buf, grpcurl) need them so.
    const ref = (typeName: string | undefined, scope: string): string | undefined => {
      const hit = typeName ? resolve(symbols, typeName, scope) : undefined;
      if (!hit) return typeName;
      if (hit.file !== f.name) deps.add(hit.file);
      return `.${hit.fqn}`;
    };
    visitFile(f, { field: ref, method: ref, jsonName: (fqn) => jsonNames.get(fqn) });
    f.dependency = [...deps].sort();
    linked.push(FileDescriptorProto.encode(FileDescriptorProto.fromObject(f)).finish());
  }
  return {
    'ductstream.reflection.Files': { format: 'Protocol Buffer 3 FileDescriptorProto', type: {}, fileDescriptorProtos: linked.map((b) => Buffer.from(b)) },
  } as unknown as PackageDefinition;
}

interface DescField {
  name: string;
  typeName?: string;
  jsonName?: string;
}
interface DescMessage {
  name: string;
  field?: DescField[];
  nestedType?: DescMessage[];
  options?: { mapEntry?: boolean };
  enumType?: Array<{ name: string }>;
}
interface DescFile {
  name: string;
  package?: string;
  dependency?: string[];
  messageType?: DescMessage[];
  enumType?: Array<{ name: string }>;
  service?: Array<{ name: string; method?: Array<{ inputType?: string; outputType?: string }> }>;
}

/** A referenced type name and the scope it appears in; returns the name to store in its place. */
type TypeRef = (typeName: string | undefined, scope: string) => string | undefined;

interface Visitor {
  symbol?: (fqn: string) => void;
  field?: TypeRef;
  method?: TypeRef;
  /** The json_name of field `pkg.Message.field`, if it has one. */
  jsonName?: (fieldFqn: string) => string | undefined;
}

/**
 * protobufjs names a map field's entry type after the field (`Options`); protoc, and the clients
 * that validate descriptors, require `<CamelCaseField>Entry` (`OptionsEntry`).
 */
function nameMapEntries(m: DescMessage): void {
  for (const n of m.nestedType ?? []) {
    nameMapEntries(n);
    if (!n.options?.mapEntry) continue;
    const field = (m.field ?? []).find((f) => f.typeName === n.name || f.typeName?.endsWith(`.${n.name}`));
    if (!field) continue;
    n.name = `${field.name.replace(/(^|_)([a-z0-9])/g, (_x, _u: string, c: string) => c.toUpperCase())}Entry`;
    field.typeName = n.name;
  }
}

function visitMessage(m: DescMessage, scope: string, v: Visitor): void {
  const fqn = scope ? `${scope}.${m.name}` : m.name;
  v.symbol?.(fqn);
  for (const f of m.field ?? []) {
    const jn = v.jsonName?.(`${fqn}.${f.name}`);
    if (jn) f.jsonName = jn;
    if (!v.field) continue;
    const t = v.field(f.typeName || undefined, fqn);
    if (t) f.typeName = t;
    else delete f.typeName;
  }
  for (const e of m.enumType ?? []) v.symbol?.(`${fqn}.${e.name}`);
  for (const n of m.nestedType ?? []) visitMessage(n, fqn, v);
}

function visitFile(f: DescFile, v: Visitor): void {
  const pkg = f.package ?? '';
  const q = (n: string) => (pkg ? `${pkg}.${n}` : n);
  for (const m of f.messageType ?? []) visitMessage(m, pkg, v);
  for (const e of f.enumType ?? []) v.symbol?.(q(e.name));
  for (const s of f.service ?? []) {
    v.symbol?.(q(s.name));
    for (const m of s.method ?? []) {
      if (!v.method) continue;
      m.inputType = v.method(m.inputType, pkg);
      m.outputType = v.method(m.outputType, pkg);
    }
  }
}

/** Protobuf name resolution: absolute `.a.B`, or relative, searched from the innermost scope out. */
function resolve(symbols: Map<string, string>, typeName: string, scope: string): { fqn: string; file: string } | undefined {
  const at = (fqn: string) => {
    const file = symbols.get(fqn);
    return file ? { fqn, file } : undefined;
  };
  if (typeName.startsWith('.')) return at(typeName.slice(1));
  for (let s = scope; ; s = s.includes('.') ? s.slice(0, s.lastIndexOf('.')) : '') {
    const hit = at(s ? `${s}.${typeName}` : typeName);
    if (hit || !s) return hit;
  }
}
