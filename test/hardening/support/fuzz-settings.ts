/**
 * How much the hardening fuzzers do per run. CI runs the defaults (seeded, so a failure reproduces
 * byte for byte); a longer local run raises the counts:
 *
 *   VIGIL_FUZZ_RUNS=5000 VIGIL_FUZZ_SEED=123 npx vitest run test/hardening
 *
 * VIGIL_FUZZ_RUNS   cases per HTTP route (default 150, at least 100); the socket fuzzer runs 5× as
 *                   many sessions and each upload parser 20× as many cases (they are cheaper).
 * VIGIL_FUZZ_SEED   base seed; each target mixes in its own name, so targets do not share cases.
 *                   Default 20261123. A failing property prints its seed and path: pass them back
 *                   as VIGIL_FUZZ_SEED / VIGIL_FUZZ_PATH to replay only that case.
 * VIGIL_FUZZ_PATH   fast-check replay path of a failure (optional).
 */
export interface FuzzSettings {
  runs: number;
  seed: number;
  path: string | undefined;
}

function positiveInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`${name} must be a non-negative integer, got ${raw}`);
  return value;
}

export function fuzzSettings(): FuzzSettings {
  return {
    runs: Math.max(100, positiveInt('VIGIL_FUZZ_RUNS', 150)),
    seed: positiveInt('VIGIL_FUZZ_SEED', 20261123),
    path: process.env.VIGIL_FUZZ_PATH || undefined,
  };
}

/** A per-target seed: stable for a name, different between names. */
export function seedFor(name: string, base = fuzzSettings().seed): number {
  let hash = 0x811c9dc5 ^ base;
  for (let i = 0; i < name.length; i++) hash = Math.imul(hash ^ name.charCodeAt(i), 0x01000193);
  return hash | 0;
}

/** fast-check parameters for one target: its seed, the run count (scaled), and the replay path if given. */
export function fcParams(
  name: string,
  runs = fuzzSettings().runs,
): { seed: number; numRuns: number; path?: string; endOnFailure: boolean } {
  const { path } = fuzzSettings();
  // A failure is reported with the shrunk case; shrinking real HTTP calls is slow, so it stops early.
  return { seed: seedFor(name), numRuns: Math.max(1, Math.round(runs)), ...(path ? { path } : {}), endOnFailure: false };
}
