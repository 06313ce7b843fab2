import type { CatalogQuery } from '../catalogQuery';
import { builtinParser, TEXT_PARSER } from './builtins';
import { arrayParserOf, type TypeParser } from './typeParser';

interface PgTypeRow {
  oid: number;
  typtype: string;
  typcategory: string;
  typelem: number;
  typbasetype: number;
  typdelim: string;
  typlen: number;
}

const MAX_ROUNDS = 8;

/**
 * Chooses the parser of every column type. Built-in types are known without a query. With
 * `resolve_types=true`, other OIDs are looked up once in `pg_type` and cached: a domain uses its
 * base type's parser, an array of any type (extension types too) is parsed into a JS array of its
 * element's values, and enums, composites, ranges and extension base types (citext, hstore,
 * geometry...) are text. With `resolve_types=false`, every non-built-in OID is text.
 */
export class TypeRegistry {
  private readonly resolved = new Map<number, TypeParser>();

  constructor(
    private readonly resolveTypes: boolean,
    private readonly query?: CatalogQuery,
  ) {}

  /** The parser for `oid`: built-in, resolved earlier, or text. Never queries. */
  parserFor(oid: number): TypeParser {
    return builtinParser(oid) ?? this.resolved.get(oid) ?? TEXT_PARSER;
  }

  /** True when `oid` would need a catalog lookup that has not happened yet. */
  needsLookup(oid: number): boolean {
    return this.resolveTypes && this.query !== undefined && builtinParser(oid) === undefined && !this.resolved.has(oid);
  }

  /** Looks up the OIDs not known yet (no-op with resolve_types=false). */
  async resolve(oids: readonly number[]): Promise<void> {
    const query = this.query;
    if (!this.resolveTypes || !query) return;
    const rows = new Map<number, PgTypeRow>();
    let pending = [...new Set(oids.filter((o) => this.needsLookup(o)))];
    for (let round = 0; pending.length > 0 && round < MAX_ROUNDS; round++) {
      const found = await query<PgTypeRow>(
        `SELECT oid::int8::float8 AS oid, typtype::text AS typtype, typcategory::text AS typcategory,
                typelem::int8::float8 AS typelem, typbasetype::int8::float8 AS typbasetype, typdelim::text AS typdelim, typlen::int AS typlen
           FROM pg_catalog.pg_type WHERE oid = ANY($1::oid[])`,
        [pending],
      );
      const next: number[] = [];
      for (const r of found) {
        rows.set(r.oid, r);
        for (const ref of [r.typelem, r.typbasetype]) {
          if (ref !== 0 && !rows.has(ref) && this.needsLookup(ref)) next.push(ref);
        }
      }
      pending = [...new Set(next)];
    }
    const build = (oid: number, depth: number): TypeParser => {
      const known = builtinParser(oid) ?? this.resolved.get(oid);
      if (known) return known;
      const r = rows.get(oid);
      let parser = TEXT_PARSER;
      if (r && depth < MAX_ROUNDS) {
        if (r.typtype === 'd' && r.typbasetype !== 0) {
          parser = build(r.typbasetype, depth + 1);
        } else if (r.typcategory === 'A' && r.typelem !== 0 && r.typlen === -1) {
          const elemRow = rows.get(r.typelem);
          parser = arrayParserOf(build(r.typelem, depth + 1), elemRow?.typdelim ?? ',');
        }
      }
      this.resolved.set(oid, parser);
      return parser;
    };
    for (const oid of oids) if (this.needsLookup(oid)) build(oid, 0);
  }
}
