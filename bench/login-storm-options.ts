/**
 * Options of `npm run bench:storm` and the pure arithmetic of its report. Every option is
 * documented here with its default; validation names the option it refuses, and a test covers
 * each message (test/sessions/login-storm-bench.test.ts).
 */
export interface StormOptions {
  /** Rounds (bound, quiet phase, storm each), medians reported (1–20, default 3). */
  rounds: number;
  /** Seconds of each storm, measured after `warmup` (5–300, default 20). */
  seconds: number;
  /** Seconds of the quiet phase before each storm: the probes alone, same rates (3–300, default 10). */
  quietSeconds: number;
  /** Seconds of the bcrypt-bound measurement each round (2–120, default 5). */
  boundSeconds: number;
  /** Seconds of load before each measured window, off the books (0–30, default 2). */
  warmup: number;
  /** Accounts made before the rounds; logins cycle through them (1–10 000, default 200). */
  accounts: number;
  /** Concurrent login clients, one login in flight each (1–1 000, default 16). */
  clients: number;
  /** Introspections per second of one already-seen token (the verified-token cache path) (0–2 000, default 50). */
  introspectRate: number;
  /** Introspections per second of tokens never presented before (Ed25519 verify + Redis) (0–500, default 20). */
  freshRate: number;
  /** Authenticated WebSocket connects per second, each with a token never presented before (0–500, default 20). */
  connectRate: number;
  /** bcrypt cost of the gateway and of the bound (10–15, default 10: the gateway's default). */
  cost: number;
  /** Where the report section is written; `-` prints only (default docs/benchmarks.md). */
  output: string;
  /**
   * A second gateway with these settings, `NAME=VALUE[,NAME=VALUE]` of VIGIL_* variables, measured
   * in the same rounds (a before/after in one run); empty: the configured gateway only.
   */
  compare: string;
}

export const STORM_DEFAULTS: StormOptions = {
  rounds: 3,
  seconds: 20,
  quietSeconds: 10,
  boundSeconds: 5,
  warmup: 2,
  accounts: 200,
  clients: 16,
  introspectRate: 50,
  freshRate: 20,
  connectRate: 20,
  cost: 10,
  output: 'docs/benchmarks.md',
  compare: '',
};

export class StormOptionError extends Error {
  override readonly name = 'StormOptionError';
}

const RANGES: Record<Exclude<keyof StormOptions, 'output' | 'compare'>, [number, number]> = {
  rounds: [1, 20],
  seconds: [5, 300],
  quietSeconds: [3, 300],
  boundSeconds: [2, 120],
  warmup: [0, 30],
  accounts: [1, 10_000],
  clients: [1, 1_000],
  introspectRate: [0, 2_000],
  freshRate: [0, 500],
  connectRate: [0, 500],
  cost: [10, 15],
};

const flagOf = (key: string) => `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

/** Reads `--name value` and `--name=value` pairs over the defaults. */
export function parseStormOptions(argv: readonly string[]): StormOptions {
  const options: StormOptions = { ...STORM_DEFAULTS };
  const keys = new Map<string, keyof StormOptions>(
    (Object.keys(STORM_DEFAULTS) as Array<keyof StormOptions>).map((key) => [flagOf(key), key]),
  );
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] = arg.includes('=')
      ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)]
      : [arg, undefined];
    const key = keys.get(flag);
    if (!key) throw new StormOptionError(`unknown option ${flag} (known: ${[...keys.keys()].join(', ')})`);
    const value = inline ?? argv[++i];
    if (value === undefined) throw new StormOptionError(`${flag} needs a value`);
    if (key === 'output') {
      options.output = value;
      continue;
    }
    if (key === 'compare') {
      if (!/^VIGIL_[A-Z0-9_]+=[^,=]+(,VIGIL_[A-Z0-9_]+=[^,=]+)*$/.test(value))
        throw new StormOptionError(
          `--compare must be NAME=VALUE[,NAME=VALUE] of VIGIL_* settings (got ${JSON.stringify(value)})`,
        );
      options.compare = value;
      continue;
    }
    const [min, max] = RANGES[key];
    const number = Number(value);
    if (!Number.isInteger(number) || number < min || number > max)
      throw new StormOptionError(`${flag} must be an integer from ${min} to ${max} (got ${JSON.stringify(value)})`);
    options[key] = number;
  }
  return options;
}

/**
 * Open-loop pacing: how many requests of a stream of `ratePerSecond` are due `elapsedMs` after
 * its start. A late timer sends every overdue request at once, so a stalled client cannot hide
 * the requests it should have sent (coordinated omission); latency counts from the due time.
 */
export function dueCount(elapsedMs: number, ratePerSecond: number): number {
  if (ratePerSecond <= 0 || elapsedMs < 0) return 0;
  return Math.floor((elapsedMs * ratePerSecond) / 1000) + 1;
}

/** When the `index`-th request (from 0) of such a stream is due, ms after its start. */
export function dueAt(index: number, ratePerSecond: number): number {
  return (index * 1000) / ratePerSecond;
}

/** Latency percentiles in ms, from an HDR histogram recorded in µs. */

/** The median of `values` (the mean of the two middle ones for an even count); NaN for none. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/**
 * `value / reference` as a short string (`0.93`, `12.4`), or `—` when the reference is zero or
 * missing: the storm-to-quiet p99 factor and logins per second against the bcrypt bound.
 */
export function ratio(value: number, reference: number): string {
  if (!(reference > 0) || !Number.isFinite(value)) return '—';
  const r = value / reference;
  return r >= 10 ? r.toFixed(1) : r.toFixed(2);
}
