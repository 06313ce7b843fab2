import { invalidArgument } from '../core/errors';
import { FLOW_STATES, type Endpoint, type Flow, type FlowState } from '../core/flow';
import { getDestinationKind } from '../destinations/registry';
import { confineLocalPaths } from './localPaths';
import { parsePostgresSourceConfig } from '../source/postgres/config';
import { isWireFormat, WIRE_FORMATS, type WireFormat } from '../wire/codec';
import { assertFormatAllowed, resolveWireFormat } from '../wire/registry';

const FLOW_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
const ENDPOINT_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
const FLOW_KEYS = ['id', 'name', 'source', 'destinations', 'wire_format', 'parallelism', 'state', 'state_reason'];
const ENDPOINT_KEYS = ['name', 'type', 'options'];

/** What validation needs to know about the service (wire-format enforcement). */
export interface FlowValidationContext {
  /** DUCTSTREAM_WIRE_FORMAT (json when unset). */
  serviceWireFormat: WireFormat;
  /** DUCTSTREAM_WIRE_ENFORCE: every destination's resolved format must equal the service's. */
  enforceWireFormat: boolean;
  /**
   * When set (the API server: DUCTSTREAM_DATA_DIR, absolute), every option naming a local file
   * must resolve inside this directory; checked before any such file is read. Unset for the
   * worker running a local flow file, which may use any path.
   */
  fileRoot?: string;
}

export const DEFAULT_VALIDATION_CONTEXT: FlowValidationContext = { serviceWireFormat: 'json', enforceWireFormat: false };

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A short, safe rendering of an untrusted JSON value for an error message. */
function describeValue(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return Array.isArray(v) ? 'an array' : 'an object';
}

function rejectUnknownKeys(obj: Record<string, unknown>, allowed: string[], path: string): void {
  for (const k of Object.keys(obj)) {
    if (!allowed.includes(k)) throw invalidArgument(path ? `${path}.${k}` : k, 'is not a known field', `known fields: ${allowed.join(', ')}`);
  }
}

function parseEndpoint(v: unknown, path: string): Endpoint {
  if (!isRecord(v)) throw invalidArgument(path, 'must be an object with name, type and options', 'e.g. {"name":"pg","type":"postgres","options":{...}}');
  rejectUnknownKeys(v, ENDPOINT_KEYS, path);
  const { name, type, options } = v;
  if (typeof type !== 'string' || type.trim() === '')
    throw invalidArgument(`${path}.type`, 'is required', 'set the connector type, e.g. "postgres" or "duckdb"');
  if (name !== undefined && typeof name !== 'string') throw invalidArgument(`${path}.name`, 'must be a string', 'use letters, digits, _ . -');
  const endpointName = typeof name === 'string' && name.trim() !== '' ? name.trim() : type.trim().toLowerCase();
  if (!ENDPOINT_NAME.test(endpointName))
    throw invalidArgument(`${path}.name`, `"${endpointName}" is not a valid name`, 'use letters, digits, _ . - (at most 128)');
  const opts: Record<string, string> = {};
  if (options !== undefined && options !== null) {
    if (!isRecord(options)) throw invalidArgument(`${path}.options`, 'must be an object of string values', 'e.g. {"dsn":"postgres://..."}');
    for (const [k, ov] of Object.entries(options)) {
      if (k === '__proto__') throw invalidArgument(`${path}.options.${k}`, 'is not a known option', 'remove it');
      if (typeof ov === 'string') opts[k] = ov;
      else if (typeof ov === 'number' || typeof ov === 'boolean') opts[k] = String(ov);
      else throw invalidArgument(`${path}.options.${k}`, 'must be a string', 'every option value is a string, e.g. "100" or "true"');
    }
  }
  return { name: endpointName, type: type.trim().toLowerCase(), options: opts };
}

/**
 * Turns untrusted input (flow JSON, a proto `Flow`) into a valid Flow, or throws a DuctError
 * `invalid_argument` whose message names the field path and the fix. Validates every connector's
 * options with the connector's own parser, so a flow that passes here can be opened.
 * `state` defaults to `created`, `parallelism` to 1.
 */
export function parseFlow(input: unknown, ctx: FlowValidationContext = DEFAULT_VALIDATION_CONTEXT): Flow {
  if (!isRecord(input)) throw invalidArgument('flow', 'must be a JSON object', 'see examples/flows/*.json');
  rejectUnknownKeys(input, FLOW_KEYS, '');
  const { id, name } = parseIdentity(input.id, input.name);
  const source = parseSource(input.source);
  const destinations = parseDestinationList(input.destinations);
  const wireFormat = parseFlowWireFormat(input.wire_format);
  const parallelism = parseParallelism(input.parallelism);
  const state = parseState(input.state, input.state_reason);
  // Before any connector parser runs: type_mappings_file is read while parsing.
  if (ctx.fileRoot !== undefined) confineLocalPaths(source, destinations, ctx.fileRoot);
  destinations.forEach((d, i) => checkDestination(d, i, wireFormat, ctx));
  const reason = typeof input.state_reason === 'string' ? input.state_reason : undefined;
  return { id, name, source, destinations, wire_format: wireFormat, parallelism, state, ...(reason ? { state_reason: reason } : {}) };
}

/** A flow field that is present: neither absent, null nor the empty string. */
function given(v: unknown): boolean {
  return v !== undefined && v !== null && v !== '';
}

function parseIdentity(id: unknown, rawName: unknown): { id: string; name: string } {
  if (typeof id !== 'string' || id.trim() === '') throw invalidArgument('id', 'is required', 'set a stable flow id, e.g. "orders-to-duckdb"');
  if (!FLOW_ID.test(id))
    throw invalidArgument('id', `"${id}" is not a valid flow id`, 'use letters, digits, _ . - (at most 128, starting with a letter or digit)');
  const name = rawName === undefined || rawName === null ? id : rawName;
  if (typeof name !== 'string') throw invalidArgument('name', 'must be a string', 'e.g. "Orders to DuckDB"');
  return { id, name };
}

/** The source endpoint: a postgres source whose options its own parser accepts. */
function parseSource(v: unknown): Endpoint {
  if (v === undefined || v === null) throw invalidArgument('source', 'is required', 'add a postgres source with dsn, slot and publication options');
  const source = parseEndpoint(v, 'source');
  if (source.type !== 'postgres') throw invalidArgument('source.type', `unknown source type "${source.type}"`, 'use "postgres"');
  parsePostgresSourceConfig(source.options, 'source.options');
  return source;
}

/** One or more destination endpoints with distinct names (their options are checked later, see {@link checkDestination}). */
function parseDestinationList(v: unknown): Endpoint[] {
  if (!Array.isArray(v) || v.length === 0) {
    throw invalidArgument(
      'destinations',
      'needs at least one destination',
      'add e.g. {"name":"warehouse","type":"duckdb","options":{"dsn":"./data/warehouse.duckdb"}}',
    );
  }
  const destinations = v.map((d, i) => parseEndpoint(d, `destinations[${i}]`));
  const names = new Set<string>();
  destinations.forEach((d, i) => {
    if (names.has(d.name)) throw invalidArgument(`destinations[${i}].name`, `"${d.name}" is used twice`, 'give every destination a distinct name');
    names.add(d.name);
  });
  return destinations;
}

function parseFlowWireFormat(v: unknown): WireFormat | '' {
  if (!given(v)) return '';
  if (typeof v !== 'string') throw invalidArgument('wire_format', 'must be a string', `use one of: ${WIRE_FORMATS.join(', ')}`);
  const wf = v.toLowerCase();
  if (!isWireFormat(wf)) throw invalidArgument('wire_format', `unknown wire format "${v}"`, `use one of: ${WIRE_FORMATS.join(', ')}`);
  return wf;
}

function parseParallelism(v: unknown): number {
  if (!given(v)) return 1;
  const p = typeof v === 'string' ? Number(v) : v;
  if (typeof p !== 'number' || !Number.isInteger(p) || p < 1 || p > 64) {
    throw invalidArgument('parallelism', `${describeValue(v)} is not allowed`, 'use a whole number from 1 to 64 (0 or unset means 1)');
  }
  return p;
}

function parseState(v: unknown, reason: unknown): FlowState {
  let state: FlowState = 'created';
  if (given(v)) {
    if (typeof v !== 'string') throw invalidArgument('state', 'must be a string', `use one of: ${FLOW_STATES.join(', ')}`);
    const s = v.toLowerCase();
    if (!(FLOW_STATES as readonly string[]).includes(s)) throw invalidArgument('state', `unknown state "${v}"`, `use one of: ${FLOW_STATES.join(', ')}`);
    state = s as FlowState;
  }
  if (reason !== undefined && reason !== null && typeof reason !== 'string')
    throw invalidArgument('state_reason', 'must be a string', 'leave it out: the service sets it');
  return state;
}

/** Destination `i`: a known kind whose parser accepts its options, in a wire format the service allows. */
function checkDestination(d: Endpoint, i: number, flowFormat: WireFormat | '', ctx: FlowValidationContext): void {
  const kind = getDestinationKind(d.type, `destinations[${i}].type`);
  kind.parseConfig(d.options, `destinations[${i}].options`);
  const resolved = resolveDestinationFormat(d, flowFormat, ctx.serviceWireFormat, i);
  if (kind.usesWireFormat) {
    assertFormatAllowed({
      resolved,
      serviceFormat: ctx.serviceWireFormat,
      enforce: ctx.enforceWireFormat,
      destinationName: d.name,
      field: `destinations[${i}].options.format`,
    });
  }
}

/**
 * The wire format of destination `d`: its `options.format` → `flow.wire_format` → service default →
 * json (src/wire/registry.ts). An unknown name at any level is rejected naming its field.
 */
export function resolveDestinationFormat(d: Endpoint, flowFormat: WireFormat | '', serviceFormat: WireFormat | undefined, index = 0): WireFormat {
  return resolveWireFormat(d.options.format, flowFormat, serviceFormat, { destination: `destinations[${index}].options.format` });
}
