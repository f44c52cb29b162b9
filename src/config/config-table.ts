import { ConfigSchema } from './schema.ts';

interface Documented {
  default?: unknown;
  description?: string;
  type?: string;
  anyOf?: Array<{ const?: unknown }>;
  minimum?: number;
  maximum?: number;
}

function typeOf(schema: Documented): string {
  if (schema.anyOf) return schema.anyOf.map((s) => `\`${String(s.const)}\``).join(' \\| ');
  const range =
    schema.minimum !== undefined || schema.maximum !== undefined ? ` (${schema.minimum ?? ''}…${schema.maximum ?? ''})` : '';
  return `${schema.type ?? 'string'}${range}`;
}

/** The README's configuration reference, as a Markdown table built from the schema. */
export function configTable(): string {
  const rows = Object.entries(ConfigSchema.properties).map(([name, property]) => {
    const schema = property as Documented;
    const fallback = schema.default === undefined ? '—' : `\`${JSON.stringify(schema.default)}\``;
    return `| \`${name}\` | ${typeOf(schema)} | ${fallback} | ${(schema.description ?? '').replace(/\|/g, '\\|')} |`;
  });
  return ['| variable | type | default | meaning |', '|---|---|---|---|', ...rows].join('\n');
}
