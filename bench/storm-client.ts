import { readFileSync } from 'node:fs';
import * as hdr from 'hdr-histogram-js';
import WebSocket from 'ws';
import { STREAM_PATH, STREAM_SUBPROTOCOL } from '../protocol/messages.ts';
import { BENCH_INTROSPECTION_TOKEN } from './bench-env.ts';
import { percentiles, type Percentiles } from '../scripts/load/latency.ts';
import { dueAt, dueCount } from './login-storm-options.ts';

/**
 * One phase of the login storm benchmark, as its own process (run by bench/login-storm.ts):
 * `clients` closed-loop password logins (`POST /v1/sessions`, one in flight each, cycling through
 * the accounts) beside three open-loop probes at steady rates — introspection of one already-seen
 * token, introspection of tokens never presented before, and authenticated WebSocket connects
 * (each with a token never presented before, timed until the `ready` message, then closed).
 * With `clients: 0` it is the quiet phase: the probes alone.
 *
 * Prints `measuring` when the measured window starts and `stopped` when it ends (the parent reads
 * server CPU between the two), then one JSON line. argv[2]: JSON `StormClientInput`.
 */
export interface StormClientInput {
  url: string;
  warmupMs: number;
  durationMs: number;
  clients: number;
  /** `[username, password]` pairs. */
  accountsFile: string;
  introspectRate: number;
  /** The already-seen token introspected at `introspectRate`. */
  seenToken: string;
  freshRate: number;
  freshTokensFile: string;
  connectRate: number;
  connectTokensFile: string;
}

export interface StormClientResult {
  seconds: number;
  logins: number;
  loginFailures: number;
  loginFailureSample: string;
  login: Percentiles;
  introspect: ProbeResult;
  fresh: ProbeResult;
  connect: ProbeResult;
}

export interface ProbeResult {
  sent: number;
  failures: number;
  failureSample: string;
  latency: Percentiles;
}

type Histogram = ReturnType<typeof hdr.build>;
const newHistogram = (): Histogram =>
  hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: 3 });
const PROBE_TIMEOUT_MS = 30_000;

const input = JSON.parse(process.argv[2] ?? '{}') as StormClientInput;
const readJson = <T>(file: string): T => JSON.parse(readFileSync(file, 'utf8')) as T;
const accounts = input.clients > 0 ? readJson<Array<[string, string]>>(input.accountsFile) : [];
const freshTokens = input.freshRate > 0 ? readJson<string[]>(input.freshTokensFile) : [];
const connectTokens = input.connectRate > 0 ? readJson<string[]>(input.connectTokensFile) : [];

let measuring = false;
let stopping = false;
const nowUs = () => Number(process.hrtime.bigint() / 1000n);

// ── logins: closed loop ──────────────────────────────────────────────
const login = { histogram: newHistogram(), completed: 0, failures: 0, failureSample: '' };
let nextAccount = 0;

async function loginLane(): Promise<void> {
  while (!stopping) {
    const [identifier, password] = accounts[nextAccount++ % accounts.length]!;
    const started = nowUs();
    let failure = '';
    try {
      const res = await fetch(`${input.url}/v1/sessions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ identifier, password }),
      });
      const body = await res.text();
      if (res.status !== 201) failure = `${res.status} ${body.slice(0, 200)}`;
    } catch (err) {
      failure = String(err);
    }
    if (!measuring) continue;
    login.histogram.recordValue(Math.max(1, nowUs() - started));
    login.completed++;
    if (failure) {
      login.failures++;
      login.failureSample ||= failure;
    }
  }
}

// ── probes: open loop ────────────────────────────────────────────────
interface Probe {
  histogram: Histogram;
  sent: number;
  failures: number;
  failureSample: string;
}

const newProbe = (): Probe => ({ histogram: newHistogram(), sent: 0, failures: 0, failureSample: '' });

/** Sends `send(index)` at `rate` per second from now until stopped; latency counts from each request's due time. */
async function pace(rate: number, probe: Probe, send: (index: number) => Promise<string>): Promise<void> {
  if (rate <= 0) return;
  const start = performance.now();
  const inFlight = new Set<Promise<void>>();
  let index = 0;
  while (!stopping) {
    const due = dueCount(performance.now() - start, rate);
    for (; index < due; index++) {
      const dueUs = (start + dueAt(index, rate)) * 1000;
      const counted = measuring;
      const request = send(index)
        .catch((err: unknown) => String(err))
        .then((failure) => {
          // Counted by when it was due, so the slowest requests at the window's end still count.
          if (!counted) return;
          probe.histogram.recordValue(Math.max(1, Math.round(performance.now() * 1000 - dueUs)));
          probe.sent++;
          if (failure) {
            probe.failures++;
            probe.failureSample ||= failure;
          }
        });
      inFlight.add(request);
      void request.finally(() => inFlight.delete(request));
    }
    await new Promise((resolve) => setTimeout(resolve, Math.max(1, start + dueAt(index, rate) - performance.now())));
  }
  await Promise.all(inFlight);
}

async function introspect(token: string): Promise<string> {
  const res = await fetch(`${input.url}/v1/tokens/introspect`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${BENCH_INTROSPECTION_TOKEN}` },
    body: JSON.stringify({ token }),
    signal: AbortSignal.timeout(PROBE_TIMEOUT_MS),
  });
  const body = await res.text();
  return res.status === 200 && body.includes('"active":true') ? '' : `${res.status} ${body.slice(0, 200)}`;
}

/** Opens a socket with `token`, resolves '' on `ready` (and closes it), or the reason it did not get there. */
function connect(token: string): Promise<string> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`${input.url.replace(/^http/, 'ws')}${STREAM_PATH}`, [STREAM_SUBPROTOCOL], {
      headers: { authorization: `Bearer ${token}` },
    });
    const timer = setTimeout(() => finish('no ready within 30 s'), PROBE_TIMEOUT_MS);
    let settled = false;
    const finish = (outcome: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(outcome);
      ws.close(1000);
    };
    ws.once('message', (data: WebSocket.RawData) => {
      const text = Buffer.isBuffer(data) ? data.toString() : '';
      finish(text.startsWith('{"type":"ready"') ? '' : `first message ${text.slice(0, 200)}`);
    });
    ws.once('close', (code, reason) => finish(`closed ${code} ${reason.toString()}`));
    ws.once('error', (err) => finish(String(err)));
  });
}

const probes = { introspect: newProbe(), fresh: newProbe(), connect: newProbe() };
const running = Promise.all([
  ...Array.from({ length: input.clients }, loginLane),
  pace(input.introspectRate, probes.introspect, () => introspect(input.seenToken)),
  pace(input.freshRate, probes.fresh, (i) => introspect(freshTokens[i % freshTokens.length]!)),
  pace(input.connectRate, probes.connect, (i) => connect(connectTokens[i % connectTokens.length]!)),
]);

await new Promise((resolve) => setTimeout(resolve, input.warmupMs));
measuring = true;
process.stdout.write('measuring\n');
const started = performance.now();
await new Promise((resolve) => setTimeout(resolve, input.durationMs));
measuring = false;
const seconds = (performance.now() - started) / 1000;
process.stdout.write('stopped\n');
stopping = true;
await running;

const probeResult = (probe: Probe): ProbeResult => ({
  sent: probe.sent,
  failures: probe.failures,
  failureSample: probe.failureSample,
  latency: percentiles(probe.histogram),
});
const result: StormClientResult = {
  seconds,
  logins: login.completed,
  loginFailures: login.failures,
  loginFailureSample: login.failureSample,
  login: percentiles(login.histogram),
  introspect: probeResult(probes.introspect),
  fresh: probeResult(probes.fresh),
  connect: probeResult(probes.connect),
};
process.stdout.write(`${JSON.stringify(result)}\n`);
