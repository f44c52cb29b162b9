/**
 * Options of `npm run soak`. Every option is documented here with its default; validation
 * names the option it refuses, and a test covers each message (test/hardening/soak-options.test.ts).
 */
export interface SoakOptions {
  /** How long to run, after accounts are made and sockets opened (1–1440). */
  minutes: number;
  /** Streaming sockets to hold for the whole run (1–50 000). */
  sockets: number;
  /** Sample rate per socket, Hz; each socket sends a frame every 100 ms (1–1000). */
  rate: number;
  /** Channels per sample (1–64). */
  channels: number;
  /** Sockets per account (default 5, the gateway's default per-user limit). */
  perUser: number;
  /** Password logins per second across all accounts; each ends the account's previous HTTP session (0–200). */
  loginsPerSecond: number;
  /** Refresh-token rotations per second across all accounts (0–2000). */
  refreshesPerSecond: number;
  /** Seconds between samples of the gateway's RSS, heap, CPU and event-loop delay (1–600). */
  sampleSeconds: number;
  /** Seconds at the start whose samples are left out of the growth fit (start-up, JIT, caches filling). */
  warmupSeconds: number;
  /** Gateway base URL (loopback only); unset starts a gateway child process for the run. */
  url: string | undefined;
  /** Print one JSON document at the end instead of the table and summary. */
  json: boolean;
}

export const SOAK_DEFAULTS: SoakOptions = {
  minutes: 10,
  sockets: 2_000,
  rate: 50,
  channels: 3,
  perUser: 5,
  loginsPerSecond: 2,
  refreshesPerSecond: 20,
  sampleSeconds: 10,
  warmupSeconds: 60,
  url: undefined,
  json: false,
};

export const SOAK_USAGE = `npm run soak -- [--minutes M] [--sockets N] [--rate HZ] [--channels C] [--per-user K]
                 [--logins-per-second L] [--refreshes-per-second R] [--sample-seconds S]
                 [--warmup-seconds W] [--url http://127.0.0.1:PORT] [--json]

Holds N streaming sockets and a stream of HTTP logins and refreshes against one gateway for M
minutes, sampling the gateway's RSS, heap, CPU and event-loop delay every S seconds. Without
--url it starts its own gateway (production mode, local Redis and FerretDB).`;

export class SoakOptionError extends Error {
  override readonly name = 'SoakOptionError';
}

const NUMERIC: Record<string, { key: keyof SoakOptions; min: number; max: number; integer: boolean }> = {
  '--minutes': { key: 'minutes', min: 1, max: 1_440, integer: false },
  '--sockets': { key: 'sockets', min: 1, max: 50_000, integer: true },
  '--rate': { key: 'rate', min: 1, max: 1_000, integer: false },
  '--channels': { key: 'channels', min: 1, max: 64, integer: true },
  '--per-user': { key: 'perUser', min: 1, max: 1_000, integer: true },
  '--logins-per-second': { key: 'loginsPerSecond', min: 0, max: 200, integer: false },
  '--refreshes-per-second': { key: 'refreshesPerSecond', min: 0, max: 2_000, integer: false },
  '--sample-seconds': { key: 'sampleSeconds', min: 1, max: 600, integer: true },
  '--warmup-seconds': { key: 'warmupSeconds', min: 0, max: 86_400, integer: true },
};

export function parseSoakOptions(argv: readonly string[]): SoakOptions {
  const options: SoakOptions = { ...SOAK_DEFAULTS };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    if (flag === '--json') {
      options.json = true;
      continue;
    }
    const value = argv[i + 1];
    if (flag === '--url') {
      if (value === undefined) throw new SoakOptionError('--url needs a value');
      let url: URL;
      try {
        url = new URL(value);
      } catch {
        throw new SoakOptionError(`--url must be an http URL, got ${value}`);
      }
      if (url.protocol !== 'http:' || !['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname)) {
        throw new SoakOptionError(`--url must be an http URL on loopback, got ${value}`);
      }
      options.url = value.replace(/\/+$/, '');
      i++;
      continue;
    }
    const spec = NUMERIC[flag];
    if (!spec) throw new SoakOptionError(`unknown option ${flag}`);
    if (value === undefined) throw new SoakOptionError(`${flag} needs a value`);
    const number = Number(value);
    if (!Number.isFinite(number) || (spec.integer && !Number.isInteger(number)) || number < spec.min || number > spec.max) {
      throw new SoakOptionError(
        `${flag} must be ${spec.integer ? 'an integer' : 'a number'} from ${spec.min} to ${spec.max}, got ${value}`,
      );
    }
    (options[spec.key] as number) = number;
    i++;
  }
  if (options.warmupSeconds >= options.minutes * 60) {
    throw new SoakOptionError(
      `--warmup-seconds (${options.warmupSeconds}) must be shorter than the run (--minutes ${options.minutes})`,
    );
  }
  return options;
}
