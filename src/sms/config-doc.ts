/**
 * The config reference, generated from the schema itself (every field's
 * type, default and description), so docs/config.md cannot drift from it.
 */
import { z } from 'zod';
import { smsConfigSchema } from './config.js';

export interface ConfigField {
  path: string;
  type: string;
  default: string;
  description: string;
}

function unwrap(schema: z.ZodTypeAny): { inner: z.ZodTypeAny; dflt?: unknown; nullable: boolean; optional: boolean; description?: string } {
  let s = schema;
  let dflt: unknown;
  let nullable = false;
  let optional = false;
  const description = s.description;
  for (;;) {
    if (s instanceof z.ZodDefault) {
      dflt = s._def.defaultValue();
      s = s._def.innerType;
    } else if (s instanceof z.ZodNullable) {
      nullable = true;
      s = s._def.innerType;
    } else if (s instanceof z.ZodOptional) {
      optional = true;
      s = s._def.innerType;
    } else if (s instanceof z.ZodEffects) {
      s = s._def.schema; // a refinement: document the refined type
    } else break;
  }
  return { inner: s, dflt, nullable, optional, description: description ?? s.description };
}

function typeName(s: z.ZodTypeAny): string {
  if (s instanceof z.ZodNumber) return s.isInt ? 'integer' : 'number';
  if (s instanceof z.ZodString) return 'string';
  if (s instanceof z.ZodBoolean) return 'boolean';
  if (s instanceof z.ZodEnum) return (s.options as string[]).map((o) => `'${o}'`).join(' \\| ');
  if (s instanceof z.ZodArray) return `${typeName(unwrap(s.element).inner)}[]`;
  if (s instanceof z.ZodRecord) return 'map';
  return 'object';
}

export function configFields(schema: z.ZodTypeAny = smsConfigSchema, prefix = ''): ConfigField[] {
  const out: ConfigField[] = [];
  const { inner } = unwrap(schema);
  if (!(inner instanceof z.ZodObject)) return out;
  for (const [key, child] of Object.entries(inner.shape as Record<string, z.ZodTypeAny>)) {
    const path = prefix ? `${prefix}.${key}` : key;
    const u = unwrap(child);
    if (u.inner instanceof z.ZodObject) {
      out.push(...configFields(u.inner, path));
      continue;
    }
    // No default: '' (shown as –) when the key may be left out, else 'required'.
    const dflt = u.dflt !== undefined ? JSON.stringify(u.dflt) : u.nullable || u.optional ? '' : 'required';
    out.push({ path, type: typeName(u.inner) + (u.nullable ? ' or null' : ''), default: dflt, description: u.description ?? '' });
  }
  return out;
}

export function configReferenceMarkdown(): string {
  const rows = configFields().map(
    (f) => `| \`${f.path}\` | ${f.type} | ${f.default === '' ? '–' : `\`${f.default}\``} | ${f.description} |`,
  );
  return ['| key | type | default | meaning |', '| --- | --- | --- | --- |', ...rows].join('\n');
}
