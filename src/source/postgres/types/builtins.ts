import type { ValueKind } from '../../../core/change';
import { bigIntBytes, boolBytes, smallIntBytes, timestampBytes, type BytesParser } from './bytesParsers';
import { normalizeDate, normalizeTimestamp, normalizeTimestamptz } from './datetime';
import { parseBigInt, parseBool, parseBytea, parseFloat, parseSmallInt, parseText, type TextParser } from './scalars';
import { arrayParserOf, type TypeParser } from './typeParser';

/**
 * Parsers for PostgreSQL's built-in types (OIDs below 10000 are fixed across versions).
 * Anything not listed is text unless the type resolver (resolver.ts) finds out more via pg_type.
 */

function scalar(kind: ValueKind, parse: TextParser, bytes?: (fallback: TextParser) => BytesParser): TypeParser {
  return bytes ? { kind, parse, parseBytes: bytes(parse) } : { kind, parse };
}

const SMALL_INT = scalar('int', parseSmallInt, smallIntBytes);

export const TEXT_PARSER: TypeParser = scalar('text', parseText);

const SCALARS: Array<[number, string, TypeParser]> = [
  [16, 'bool', scalar('bool', parseBool, boolBytes)],
  [17, 'bytea', scalar('bytes', parseBytea)],
  [18, 'char', TEXT_PARSER],
  [19, 'name', TEXT_PARSER],
  [20, 'int8', scalar('bigint', parseBigInt, bigIntBytes)],
  [21, 'int2', SMALL_INT],
  [22, 'int2vector', TEXT_PARSER],
  [23, 'int4', SMALL_INT],
  [25, 'text', TEXT_PARSER],
  [26, 'oid', SMALL_INT],
  [30, 'oidvector', TEXT_PARSER],
  [114, 'json', scalar('json', parseText)],
  [142, 'xml', TEXT_PARSER],
  [700, 'float4', scalar('float', parseFloat)],
  [701, 'float8', scalar('float', parseFloat)],
  [790, 'money', TEXT_PARSER],
  [1042, 'bpchar', TEXT_PARSER],
  [1043, 'varchar', TEXT_PARSER],
  [1082, 'date', scalar('date', normalizeDate)],
  [1083, 'time', scalar('time', parseText)],
  [1114, 'timestamp', scalar('timestamp', normalizeTimestamp, (f) => timestampBytes(f, false))],
  [1184, 'timestamptz', scalar('timestamptz', normalizeTimestamptz, (f) => timestampBytes(f, true))],
  [1186, 'interval', scalar('interval', parseText)],
  [1266, 'timetz', scalar('time', parseText)],
  [1700, 'numeric', scalar('numeric', parseText)],
  [2950, 'uuid', TEXT_PARSER],
  [3802, 'jsonb', scalar('json', parseText)],
];

/** Array type OID → element type OID (and the element's delimiter when not a comma). */
const ARRAYS: Array<[number, number, string?]> = [
  [1000, 16],
  [1001, 17],
  [1002, 18],
  [1003, 19],
  [1016, 20],
  [1005, 21],
  [1007, 23],
  [1009, 25],
  [1028, 26],
  [199, 114],
  [143, 142],
  [1021, 700],
  [1022, 701],
  [791, 790],
  [1014, 1042],
  [1015, 1043],
  [1182, 1082],
  [1183, 1083],
  [1115, 1114],
  [1185, 1184],
  [1187, 1186],
  [1270, 1266],
  [1231, 1700],
  [2951, 2950],
  [3807, 3802],
  // Arrays of text-valued built-ins: inet, cidr, macaddr, macaddr8, bit, varbit, point, lseg, path,
  // box (`;`), polygon, line, circle, tsvector, tsquery, pg_lsn, int4range, numrange, tsrange,
  // tstzrange, daterange, int8range, jsonpath, xid, xid8, cid, tid, regclass, regtype.
  [1041, 869],
  [651, 650],
  [1040, 829],
  [775, 774],
  [1561, 1560],
  [1563, 1562],
  [1017, 600],
  [1018, 601],
  [1019, 602],
  [1020, 603, ';'],
  [1027, 604],
  [629, 628],
  [719, 718],
  [3643, 3614],
  [3645, 3615],
  [3221, 3220],
  [3905, 3904],
  [3907, 3906],
  [3909, 3908],
  [3911, 3910],
  [3913, 3912],
  [3927, 3926],
  [4073, 4072],
  [1011, 28],
  [271, 5069],
  [1012, 29],
  [1010, 27],
  [2210, 2205],
  [2211, 2206],
];

const BY_OID = new Map<number, TypeParser>();
for (const [oid, , parser] of SCALARS) BY_OID.set(oid, parser);
for (const [oid, elem, delim] of ARRAYS) {
  BY_OID.set(oid, arrayParserOf(BY_OID.get(elem) ?? TEXT_PARSER, delim));
}

/** The parser of a built-in type, or undefined when the OID is not a known built-in. */
export function builtinParser(oid: number): TypeParser | undefined {
  return BY_OID.get(oid);
}
