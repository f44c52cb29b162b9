import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { FeatureSpec } from '../../../protocol/biometrics.ts';
import { matrix, type FeatureMatrix } from '../samples.ts';

/**
 * A background population: other people's feature windows for one exact feature spec, shipped
 * with the product so that the first accounts of a fresh deployment train a cohort model
 * instead of a one-class fallback. Built reproducibly from public development data by
 * `scripts/eval/build-background.ts`; the file records how.
 */
export interface BackgroundPopulation {
  format: typeof BACKGROUND_FORMAT;
  /** Name and version of the asset, e.g. `wisdm-walking-20hz-xyz.v1`. */
  id: string;
  /** Provenance: data set, licence, subjects, command. Informational. */
  source: Record<string, unknown>;
  spec: FeatureSpec;
  /** One matrix per person (spec.names order). */
  members: FeatureMatrix[];
}

export const BACKGROUND_FORMAT = 'vigil-background-population/1';

/** The asset shipped for the default motion signature (x, y, z at 20 Hz, default windows). */
export const BUILTIN_BACKGROUND = 'wisdm-walking-20hz-xyz.v1.json';

/** On disk: the same, with each member's float32 rows as little-endian base64. */
export interface BackgroundFile {
  format: typeof BACKGROUND_FORMAT;
  id: string;
  source: Record<string, unknown>;
  spec: FeatureSpec;
  members: { id: string; windows: number; float32: string }[];
}

export function encodeBackground(population: BackgroundPopulation, memberIds: readonly string[]): BackgroundFile {
  return {
    format: BACKGROUND_FORMAT,
    id: population.id,
    source: population.source,
    spec: population.spec,
    members: population.members.map((m, i) => {
      const bytes = Buffer.alloc(m.n * m.d * 4);
      for (let k = 0; k < m.n * m.d; k++) bytes.writeFloatLE(m.data[k] as number, k * 4);
      return { id: memberIds[i] ?? `m${i + 1}`, windows: m.n, float32: bytes.toString('base64') };
    }),
  };
}

export function decodeBackground(file: unknown, where: string): BackgroundPopulation {
  const f = file as Partial<BackgroundFile>;
  const bad = (why: string) => new Error(`background population ${where}: ${why}`);
  if (f?.format !== BACKGROUND_FORMAT) throw bad(`format must be ${BACKGROUND_FORMAT}`);
  if (typeof f.id !== 'string' || !f.spec || !Array.isArray(f.spec.names) || !Array.isArray(f.members))
    throw bad('id, spec and members are required');
  const d = f.spec.names.length;
  const members = f.members.map((m, i) => {
    const bytes = Buffer.from(String(m.float32), 'base64');
    if (!Number.isInteger(m.windows) || bytes.byteLength !== m.windows * d * 4)
      throw bad(`member ${i} holds ${bytes.byteLength} bytes, expected ${m.windows} windows × ${d} features × 4`);
    const data = new Float32Array(m.windows * d);
    for (let k = 0; k < data.length; k++) {
      const v = bytes.readFloatLE(k * 4);
      if (!Number.isFinite(v)) throw bad(`member ${i} has a non-finite feature`);
      data[k] = v;
    }
    return matrix(data, m.windows, d);
  });
  return { format: BACKGROUND_FORMAT, id: f.id, source: f.source ?? {}, spec: f.spec, members };
}

/** Where the shipped assets live, from this module under tsx (src/…) or compiled (dist/src/…). */
function builtinPath(name: string): string[] {
  return ['../../../assets/background/', '../../../../assets/background/'].map((dir) =>
    fileURLToPath(new URL(dir + name, import.meta.url)),
  );
}

/**
 * Loads `setting` (VIGIL_BIOMETRIC_BACKGROUND): `off` → none, `builtin` → the shipped asset,
 * anything else → a file path. A file that is missing or malformed throws: a configured
 * background that silently vanished would quietly weaken every new account's model.
 */
export async function loadBackground(setting: string): Promise<BackgroundPopulation | undefined> {
  if (setting === 'off') return undefined;
  const candidates = setting === 'builtin' ? builtinPath(BUILTIN_BACKGROUND) : [setting];
  for (const path of candidates) {
    const text = await readFile(path, 'utf8').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined;
      throw err;
    });
    if (text !== undefined) return decodeBackground(JSON.parse(text), path);
  }
  throw new Error(`background population not found (VIGIL_BIOMETRIC_BACKGROUND=${setting}; looked in ${candidates.join(', ')})`);
}

/** A spec as canonical text: sorted keys, without the modality label (it does not change a feature). */
function canonical(spec: FeatureSpec): string {
  const sorted = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(sorted)
      : v && typeof v === 'object'
        ? Object.fromEntries(
            Object.keys(v)
              .sort()
              .map((k) => [k, sorted((v as Record<string, unknown>)[k])]),
          )
        : v;
  const { modality: _label, ...features } = spec;
  return JSON.stringify(sorted(features));
}

/** Same features computed the same way: rate, channels in order, windows, bands, names… all agree. */
export function sameSpec(a: FeatureSpec, b: FeatureSpec): boolean {
  return canonical(a) === canonical(b);
}

/**
 * The one place where the background joins training: the live cohort's rows plus background
 * members, up to `members` people in all, when the background was built for exactly this spec.
 * Live members come first and are never displaced; a cohort already `members` strong is
 * returned as it is.
 */
export function withBackground(
  cohort: readonly FeatureMatrix[],
  spec: FeatureSpec,
  background: BackgroundPopulation | undefined,
  members: number,
): FeatureMatrix[] {
  const live = [...cohort];
  if (!background || live.length >= members || !sameSpec(background.spec, spec)) return live;
  return [...live, ...background.members.slice(0, members - live.length)];
}
