import type { CatalogQuery } from '../catalogQuery';
import type { RelationMessage, TypeMessage } from '../pgoutput/messages';
import type { TypeRegistry } from '../types/resolver';
import { loadRelationCatalog } from './catalog';
import { buildRelationState, type RelationState } from './relationState';

/**
 * Turns Relation messages into {@link RelationState}s: resolves the column types (pg_type, when
 * `resolve_types` is on) and reads the table's catalog, over a normal connection.
 */
export class RelationLoader {
  private readonly typeNames = new Map<number, string>();

  constructor(
    private readonly query: CatalogQuery,
    private readonly types: TypeRegistry,
    private readonly internalSchemas: ReadonlySet<string>,
  ) {}

  /** Remembers a type announced by a Type message (used when the catalog no longer has it). */
  noteType(m: TypeMessage): void {
    this.typeNames.set(m.typeOid, m.schema === 'pg_catalog' ? m.name : `${m.schema}.${m.name}`);
  }

  async load(rel: RelationMessage): Promise<RelationState> {
    await this.types.resolve(rel.columns.map((c) => c.typeOid));
    const info = await loadRelationCatalog(this.query, rel);
    return buildRelationState(rel, info, this.types, this.internalSchemas, this.typeNames);
  }
}
