import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import { Value } from '@sinclair/typebox/value';
import type { TSchema } from '@sinclair/typebox';
import type { ErrorDetail } from '../../../protocol/errors.ts';
import {
  BASE_PROFILE_FIELDS,
  PROFILE_FIELD_TYPES,
  profileInputSchema,
  profilePatchSchema,
  type ProfileFieldSpec,
} from '../../../protocol/http/accounts.ts';
import { fieldErrors } from '../../server/http/field-errors.ts';

const NAME = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;
const KNOWN_KEYS = new Set(['name', 'type', 'required', 'maxLength', 'description']);
/** Largest serialised value of a 'json' field. */
export const JSON_FIELD_LIMIT = 8192;

/**
 * Parses VIGIL_PROFILE_FIELDS. Every message names the variable and the entry
 * (`VIGIL_PROFILE_FIELDS[1].type: …`), so a bad deployment says exactly what to fix.
 */
export function parseProfileFields(json: string, variable = 'VIGIL_PROFILE_FIELDS'): ProfileFieldSpec[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch (err) {
    throw new Error(`${variable}: not valid JSON (${(err as Error).message})`, { cause: err });
  }
  if (!Array.isArray(parsed)) throw new Error(`${variable}: must be a JSON array of {name, type} objects`);
  const seen = new Set<string>();
  return parsed.map((entry: unknown, index): ProfileFieldSpec => {
    const at = `${variable}[${index}]`;
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry))
      throw new Error(`${at}: must be an object {name, type}`);
    const e = entry as Record<string, unknown>;
    for (const key of Object.keys(e))
      if (!KNOWN_KEYS.has(key)) throw new Error(`${at}.${key}: unknown key; allowed: ${[...KNOWN_KEYS].join(', ')}`);
    if (typeof e.name !== 'string' || !NAME.test(e.name)) throw new Error(`${at}.name: must match ${NAME.source}`);
    if ((BASE_PROFILE_FIELDS as readonly string[]).includes(e.name))
      throw new Error(`${at}.name: "${e.name}" is a built-in profile field`);
    if (seen.has(e.name)) throw new Error(`${at}.name: "${e.name}" is declared twice`);
    seen.add(e.name);
    if (typeof e.type !== 'string' || !(PROFILE_FIELD_TYPES as readonly string[]).includes(e.type)) {
      throw new Error(`${at}.type: must be one of ${PROFILE_FIELD_TYPES.join(', ')}`);
    }
    if (e.required !== undefined && typeof e.required !== 'boolean') throw new Error(`${at}.required: must be true or false`);
    if (e.maxLength !== undefined && (!Number.isInteger(e.maxLength) || (e.maxLength as number) < 1)) {
      throw new Error(`${at}.maxLength: must be a whole number ≥ 1`);
    }
    if (e.description !== undefined && typeof e.description !== 'string') throw new Error(`${at}.description: must be a string`);
    const spec: ProfileFieldSpec = { name: e.name, type: e.type as ProfileFieldSpec['type'] };
    if (e.required !== undefined) spec.required = e.required;
    if (e.maxLength !== undefined) spec.maxLength = e.maxLength as number;
    if (e.description !== undefined) spec.description = e.description;
    return spec;
  });
}

function describe(check: TypeCheck<TSchema>, value: unknown): ErrorDetail[] {
  const details: ErrorDetail[] = [];
  const seen = new Set<string>();
  for (const error of check.Errors(value)) {
    const field = `profile${error.path.replace(/\//g, '.')}`;
    if (seen.has(field)) continue;
    seen.add(field);
    details.push({ field, message: error.message });
  }
  return details;
}

/**
 * Why a 'json' value could not be stored, or undefined. To MongoDB a key starting with `$` is an
 * operator and one with `.` a path (an update refuses both), NUL ends a BSON key, and FerretDB v1
 * stores no array directly inside an array: refused here as a 400 rather than failing in the store.
 */
export function unstorableJson(value: unknown, at = ''): string | undefined {
  if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) {
      if (Array.isArray(item)) return `${at}/${i}: an array directly inside an array cannot be stored`;
      const inner = unstorableJson(item, `${at}/${i}`);
      if (inner) return inner;
    }
  } else if (typeof value === 'object' && value !== null) {
    for (const [key, item] of Object.entries(value)) {
      if (key.startsWith('$') || key.includes('.') || key.includes('\u0000')) {
        return `${at || '/'}: key ${JSON.stringify(key)} cannot be stored (no leading $, no . or NUL)`;
      }
      const inner = unstorableJson(item, `${at}/${key}`);
      if (inner) return inner;
    }
  }
  return undefined;
}

/**
 * Validates profiles in the service layer too, so callers other than the core routes (legacy
 * dialects) get the same rules, with errors naming `profile.<field>`.
 */
export class ProfileValidator {
  private readonly input: TypeCheck<TSchema>;
  private readonly patch: TypeCheck<TSchema>;
  private readonly jsonFields: string[];

  constructor(readonly fields: readonly ProfileFieldSpec[]) {
    this.input = TypeCompiler.Compile(profileInputSchema(fields));
    this.patch = TypeCompiler.Compile(profilePatchSchema(fields));
    this.jsonFields = fields.filter((f) => f.type === 'json').map((f) => f.name);
  }

  /** Throws VALIDATION_FAILED naming each bad field. */
  check(profile: Record<string, unknown>, mode: 'input' | 'patch'): void {
    const check = mode === 'input' ? this.input : this.patch;
    const details = check.Check(profile) ? [] : describe(check, profile);
    for (const name of this.jsonFields) {
      if (profile[name] !== undefined && profile[name] !== null && JSON.stringify(profile[name]).length > JSON_FIELD_LIMIT) {
        details.push({ field: `profile.${name}`, message: `must serialise to at most ${JSON_FIELD_LIMIT} bytes` });
      }
      const unstorable = unstorableJson(profile[name]);
      if (unstorable) details.push({ field: `profile.${name}`, message: unstorable });
    }
    if (details.length > 0) throw fieldErrors(details);
  }

  /** Copy without undefined members (Mongo would store them as null). */
  static clean(profile: Record<string, unknown>): Record<string, unknown> {
    return Value.Clone(Object.fromEntries(Object.entries(profile).filter(([, v]) => v !== undefined)));
  }
}
