/**
 * Options of `npm run load`. Every option is documented here with its default; validation
 * names the option it refuses, and a test covers each message.
 */
export interface LoadOptions {
  /** Gateway base URL; loopback only (default http://127.0.0.1:8080). */
  url: string;
  /** Sockets to open (1–50 000). */
  connections: number;
  /** Sample rate per socket, Hz; 0 opens idle sockets that stream nothing (memory runs). */
  rate: number;
  /** Channels per sample (1–64). */
  channels: number;
  /** Seconds to hold every socket after the ramp and settle, measured (1–3600). */
  duration: number;
  /** Seconds between the ramp and the measured hold, so start-up garbage is collected first (default 3). */
  settle: number;
  /** Seconds over which sockets are opened; 0 opens them as fast as `concurrency` allows. */
  ramp: number;
  /** Upgrades in flight at once while ramping (default 64). */
  concurrency: number;
  /** Milliseconds of samples per frame (default 100: 10 frames/s per socket). */
  frameMs: number;
  /** Ask for an ack on every k-th frame (default 1; 0 never). */
  ackEvery: number;
  /** Sockets per account (default 5, the gateway's default per-user limit). */
  perUser: number;
  /** Reconnect closed sockets as the SDK would (default off: closes are counted, not hidden). */
  reconnect: boolean;
  /** Print one JSON summary on stdout instead of the report. */
  json: boolean;
  /** Start a gateway child process with load-test limits instead of using `url`. */
  spawn: boolean;
  /** First run the same load against a bare uWS server (same codec and messages) for comparison. */
  baseline: boolean;
  /** Where accounts are remembered between runs. */
  accountsFile: string;
  /**
   * Continuous verification: every account gets a biometric model (enrolled once over HTTP) and
   * every socket streams its subject's held-out recording, so the gateway scores windows and
   * sends verdicts. Without it the gateway is spawned with VIGIL_CV_ENABLED=false (channel only).
   */
  verify: boolean;
  /** Load-generating child processes; sockets are split between them (default 1: this process). */
  processes: number;
  /** Recordings replayed with --verify (the WISDM development set); synthetic signals if absent. */
  data: string;
  /** Run the peer comparison against this server instead (`centrifugo`; see scripts/load/peer.ts). */
  peer: '' | 'centrifugo';
  /** --peer: rounds per target, interleaved; the report gives medians (default 3). */
  rounds: number;
  /** --peer: a second Vigil with these settings, `NAME=VALUE[,NAME=VALUE]` (a before/after in one run). */
  variant: string;
  /** --peer: loopback source addresses for the client, comma-separated (past ~25k sockets per address). */
  sources: string;
  /** --peer: upstream messages per second per socket during the hold (0: idle hold only). */
  upstream: number;
}

export const LOAD_DEFAULTS: LoadOptions = {
  url: 'http://127.0.0.1:8080',
  connections: 100,
  rate: 50,
  channels: 3,
  duration: 30,
  settle: 3,
  ramp: 0,
  concurrency: 64,
  frameMs: 100,
  ackEvery: 1,
  perUser: 5,
  reconnect: false,
  json: false,
  spawn: false,
  baseline: false,
  accountsFile: '.data/load-accounts.json',
  verify: false,
  processes: 1,
  data: 'test/fixtures/wisdm-walking',
  peer: '',
  rounds: 3,
  variant: '',
  sources: '',
  upstream: 0,
};

export class LoadOptionError extends Error {
  override readonly name = 'LoadOptionError';
}

const FLAGS = new Set(['reconnect', 'json', 'spawn', 'baseline', 'verify']);
const NAMES: Record<string, keyof LoadOptions> = {
  url: 'url',
  connections: 'connections',
  rate: 'rate',
  channels: 'channels',
  duration: 'duration',
  settle: 'settle',
  ramp: 'ramp',
  concurrency: 'concurrency',
  'frame-ms': 'frameMs',
  'ack-every': 'ackEvery',
  'per-user': 'perUser',
  reconnect: 'reconnect',
  json: 'json',
  spawn: 'spawn',
  baseline: 'baseline',
  'accounts-file': 'accountsFile',
  verify: 'verify',
  processes: 'processes',
  data: 'data',
  peer: 'peer',
  rounds: 'rounds',
  variant: 'variant',
  sources: 'sources',
  upstream: 'upstream',
};

function number(name: string, raw: string, min: number, max: number, integer = true): number {
  const value = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(value) || (integer && !Number.isInteger(value)) || value < min || value > max) {
    throw new LoadOptionError(
      `--${name} must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max}, got ${JSON.stringify(raw)}`,
    );
  }
  return value;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

/** Parses `--name value` / `--flag` arguments; throws LoadOptionError naming the bad option. */
export function parseLoadOptions(argv: readonly string[]): LoadOptions {
  const options: LoadOptions = { ...LOAD_DEFAULTS };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) throw new LoadOptionError(`unexpected argument ${JSON.stringify(arg)}; options start with --`);
    const [name, inline] = arg.slice(2).split('=', 2) as [string, string | undefined];
    const key = NAMES[name];
    if (!key)
      throw new LoadOptionError(
        `unknown option --${name}; known: ${Object.keys(NAMES)
          .map((n) => `--${n}`)
          .join(' ')}`,
      );
    if (FLAGS.has(name)) {
      (options as unknown as Record<string, unknown>)[key] = inline === undefined ? true : inline !== 'false';
      continue;
    }
    const raw = inline ?? argv[++i];
    if (raw === undefined) throw new LoadOptionError(`--${name} needs a value`);
    switch (key) {
      case 'url': {
        let url: URL;
        try {
          url = new URL(raw);
        } catch {
          throw new LoadOptionError(`--url must be an http:// URL, got ${JSON.stringify(raw)}`);
        }
        if (url.protocol !== 'http:') throw new LoadOptionError(`--url must be an http:// URL, got ${JSON.stringify(raw)}`);
        if (!LOOPBACK.has(url.hostname))
          throw new LoadOptionError(`--url must be a loopback address (127.0.0.1, ::1, localhost); refusing ${url.hostname}`);
        options.url = url.origin;
        break;
      }
      case 'connections':
        options.connections = number(name, raw, 1, 50_000);
        break;
      case 'rate':
        options.rate = number(name, raw, 0, 10_000, false);
        break;
      case 'channels':
        options.channels = number(name, raw, 1, 64);
        break;
      case 'duration':
        options.duration = number(name, raw, 1, 3_600, false);
        break;
      case 'ramp':
        options.ramp = number(name, raw, 0, 600, false);
        break;
      case 'settle':
        options.settle = number(name, raw, 0, 600, false);
        break;
      case 'concurrency':
        options.concurrency = number(name, raw, 1, 1_000);
        break;
      case 'frameMs':
        options.frameMs = number(name, raw, 5, 10_000);
        break;
      case 'ackEvery':
        options.ackEvery = number(name, raw, 0, 1_000_000);
        break;
      case 'perUser':
        options.perUser = number(name, raw, 1, 10_000);
        break;
      case 'accountsFile':
        options.accountsFile = raw;
        break;
      case 'processes':
        options.processes = number(name, raw, 1, 32);
        break;
      case 'data':
        options.data = raw;
        break;
      case 'peer':
        if (raw !== 'centrifugo') throw new LoadOptionError(`--peer must be centrifugo, got ${JSON.stringify(raw)}`);
        options.peer = raw;
        break;
      case 'rounds':
        options.rounds = number(name, raw, 1, 15);
        break;
      case 'variant':
        if (!/^[A-Z][A-Z0-9_]*=[^,]*(,[A-Z][A-Z0-9_]*=[^,]*)*$/.test(raw))
          throw new LoadOptionError(`--variant must be NAME=VALUE[,NAME=VALUE], got ${JSON.stringify(raw)}`);
        options.variant = raw;
        break;
      case 'sources':
        for (const address of raw.split(','))
          if (!/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(address))
            throw new LoadOptionError(
              `--sources must be loopback addresses (127.x.y.z), comma-separated; refusing ${JSON.stringify(address)}`,
            );
        options.sources = raw;
        break;
      case 'upstream':
        options.upstream = number(name, raw, 0, 1_000, false);
        break;
    }
  }
  return options;
}

export const LOAD_USAGE = `npm run load -- --connections N --rate HZ --channels C --duration S [--ramp S] [--json]
  --url URL          gateway (loopback only)            default ${LOAD_DEFAULTS.url}
  --spawn            start a gateway child process with load-test limits instead
  --connections N    sockets to open                    default ${LOAD_DEFAULTS.connections}
  --rate HZ          samples per second per socket (0: idle sockets)   default ${LOAD_DEFAULTS.rate}
  --channels C       channels per sample                default ${LOAD_DEFAULTS.channels}
  --duration S       seconds measured after the ramp    default ${LOAD_DEFAULTS.duration}
  --settle S         seconds between ramp and measuring default ${LOAD_DEFAULTS.settle}
  --ramp S           seconds to open the sockets over   default ${LOAD_DEFAULTS.ramp} (as fast as --concurrency allows)
  --concurrency K    upgrades in flight while ramping   default ${LOAD_DEFAULTS.concurrency}
  --frame-ms MS      samples per frame, in ms           default ${LOAD_DEFAULTS.frameMs}
  --ack-every K      ack every k-th frame (0: never)    default ${LOAD_DEFAULTS.ackEvery}
  --per-user K       sockets per account                default ${LOAD_DEFAULTS.perUser}
  --baseline         first run the same load against a bare uWS server, and compare
  --reconnect        reconnect closed sockets with backoff
  --json             print a JSON summary only
  --accounts-file F  accounts kept between runs         default ${LOAD_DEFAULTS.accountsFile}
  --verify           continuous verification: accounts get models, sockets stream real recordings, verdicts measured
  --data DIR         recordings replayed with --verify  default ${LOAD_DEFAULTS.data} (synthetic if missing)
  --processes P      load-generating child processes    default ${LOAD_DEFAULTS.processes}
  --peer centrifugo  Vigil and Centrifugo side by side (connect burst, idle memory) with one Go client
  --rounds R         --peer: interleaved rounds, medians reported   default ${LOAD_DEFAULTS.rounds}
  --variant N=V,…    --peer: also a second Vigil with these settings (before/after in one run)
  --sources A,B      --peer: client source addresses (127.x.y.z), past ~25k sockets
  --upstream R       --peer: messages/s per socket during the hold   default ${LOAD_DEFAULTS.upstream} (idle)`;
