/** The five legacy auth APIs (docs/legacy.md), by the letter of their document in shared/seeds. */
export type DialectName = 'a' | 'b' | 'c' | 'd' | 'e';
export const DIALECT_NAMES: readonly DialectName[] = ['a', 'b', 'c', 'd', 'e'];

/** VIGIL_LEGACY_DIALECTS ("a,c,e") → the set to serve. The config schema already refused anything else. */
export function enabledDialects(spec: string): Set<DialectName> {
  return new Set(
    spec
      .split(',')
      .map((part) => part.trim())
      .filter((part): part is DialectName => (DIALECT_NAMES as readonly string[]).includes(part)),
  );
}

/** The session kind (SessionRecord.kind, audit detail) of a dialect's logins. */
export const sessionKind = (dialect: DialectName) => `legacy-${dialect}`;
