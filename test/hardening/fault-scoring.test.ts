import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { isReconnectWorthy } from '../../protocol/errors.ts';
import { StreamClient, type SampleStream } from '../../protocol/client/index.ts';
import { ScoringFaults } from '../../src/biometrics/scoring-faults.ts';
import type { ScoringPool } from '../../src/biometrics/scoring-pool.ts';
import { slice, toCsv, walking } from '../biometrics/support.ts';
import { biometricsOf } from '../continuous/support.ts';
import type { TestGateway } from '../support/gateway.ts';
import { signUpMember, type Member } from './support/accounts.ts';
import { enrol, enrolment, enrolmentCsv } from './support/biometric-data.ts';
import { eventually, sleep } from './support/cluster.ts';
import { startFuzzGateway } from './support/fuzz-gateway.ts';

// Scoring worker threads (the Piscina pool running onnxruntime) ended in the middle of real tasks,
// hundreds of times, while HTTP verifications and streaming sockets keep them busy; then a scoring
// path slowed until tasks time out. This test runs inside the gateway's process: a thread ended
// inside an onnxruntime call aborts the whole process (std::terminate), which vitest reports as a
// crashed worker. The pool ends threads only through retirement (src/biometrics/native-gate.ts),
// and nearly every retirement here lands on a thread inside an onnxruntime call (a task is scored
// inside one; every other round the task stalls there).
// Expected: the process never exits; a verification whose thread was retired is retried or fails
// with a catalogued 503 (never a 500, never a hang); sockets keep streaming (verdicts resume) or
// close reconnect-worthy; the pool replaces its threads and every verification succeeds again.
// src/biometrics/scoring-pool.test.ts covers each fault one task at a time.
// scripts/repeat-test.sh runs this file many times in a row.
const RETIREMENTS = Number(process.env.VIGIL_FAULT_RETIREMENTS ?? 200);
const TIMEOUT_MS = 1500;
let gw: TestGateway;
let pool: ScoringPool;
/** Faults planted in the gateway's scoring pool (stalls inside onnxruntime). */
const faults = new ScoringFaults();
let member: Member;
let verifyCsv: string;
const closes: number[] = [];
let verdicts = 0;
type Outcome = { status: number; code?: string; ms: number };

beforeAll(async () => {
  gw = await startFuzzGateway(
    {
      VIGIL_SCORING_THREADS: '2',
      VIGIL_SCORING_TIMEOUT_MS: String(TIMEOUT_MS),
      VIGIL_BIOMETRIC_VERIFY_PER_MINUTE: '100000',
      VIGIL_BIOMETRIC_VERIFY_WINDOWS_PER_HOUR: '100000000',
      // The sockets loop over 2,000 samples (200 s): on a slow run they would start repeating
      // what they sent, which replay detection rightly answers by revoking the session.
      VIGIL_CV_REPLAY_DETECTION: 'false',
    },
    { scoringFaults: faults },
  );
  pool = biometricsOf(gw).pool;
  member = await signUpMember(gw.url, 'sc');
  const id = await enrol(gw.url, member.accessToken, await enrolmentCsv(0));
  await eventually(async () => (await enrolment(gw.url, member.accessToken, id))?.status === 'ready', 60_000, 'model trained');
  const subjects = [...(await walking()).values()];
  verifyCsv = toCsv(slice(subjects[0]!, 1500, 2100));
}, 120_000);

afterAll(async () => {
  await gw?.close();
});

async function verifyLoop(outcomes: Outcome[], until: () => boolean): Promise<void> {
  while (!until()) {
    const started = Date.now();
    try {
      const res = await fetch(`${gw.url}/v1/biometrics/verify?rate=20`, {
        method: 'POST',
        headers: { 'content-type': 'text/csv', authorization: `Bearer ${member.accessToken}` },
        body: verifyCsv,
        signal: AbortSignal.timeout(10_000),
      });
      const body = (await res.json()) as { error?: { code: string } };
      outcomes.push({ status: res.status, ...(body.error ? { code: body.error.code } : {}), ms: Date.now() - started });
    } catch {
      outcomes.push({ status: 0, ms: Date.now() - started });
    }
  }
}

/** Sockets streaming the owner's walk (their windows are scored in the same pool) until stopped. */
async function streamingClients(): Promise<{ clients: StreamClient[]; stop(): void }> {
  const samples = [...(await walking()).values()][0]!;
  const entries: Array<{ client: StreamClient; stream?: SampleStream }> = [];
  for (let i = 0; i < 3; i++) {
    const client = new StreamClient({
      url: gw.url,
      WebSocket,
      getToken: async () => member.accessToken,
      reconnect: { initialDelayMs: 200, maxDelayMs: 1_000 },
    });
    const entry: { client: StreamClient; stream?: SampleStream } = { client };
    client.on('ready', () => (entry.stream ??= client.openStream({ rate: 20, channels: ['x', 'y', 'z'], modality: 'motion' })));
    client.on('verdict', () => verdicts++);
    client.on('close', ({ code }) => closes.push(code));
    entries.push(entry);
    await client.connect();
  }
  let offset = 0;
  const ticker = setInterval(() => {
    const chunk = slice(samples, offset % 2000, (offset % 2000) + 10);
    offset += 10;
    for (const { stream } of entries) stream?.send(chunk.data);
  }, 100);
  return {
    clients: entries.map((e) => e.client),
    stop() {
      clearInterval(ticker);
      for (const { client } of entries) client.close();
    },
  };
}

function tally(outcomes: Outcome[]): Record<string, number> {
  return outcomes.reduce<Record<string, number>>((acc, o) => {
    const key = `${o.status} ${o.code ?? ''}`.trim();
    acc[key] = (acc[key] ?? 0) + 1;
    return acc;
  }, {});
}

/** Nothing but success and the catalogued scoring 503s; nothing that took as long as the client's patience. */
function expectOnlyCataloguedFailures(outcomes: Outcome[]): void {
  expect(
    outcomes.filter((o) => o.status === 0 || (o.status >= 500 && !(o.status === 503 && /^SCORING_/.test(o.code ?? '')))),
  ).toEqual([]);
  expect(outcomes.filter((o) => o.ms >= 10_000)).toEqual([]);
}

/** Verifications after the faults stopped, once the pool has replaced its threads: all succeed. */
async function expectServingAgain(): Promise<void> {
  await eventually(() => pool.stats.threads === pool.options.threads && pool.stats.inFlight === 0, 20_000, 'threads replaced');
  const after: Outcome[] = [];
  let n = 0;
  await verifyLoop(after, () => n++ >= 5);
  expect(after.map((o) => o.status)).toEqual([200, 200, 200, 200, 200]);
  expect((await fetch(`${gw.url}/healthz`)).status).toBe(200);
}

describe('scoring threads retired mid-task under load', () => {
  it(`retires busy threads ${RETIREMENTS} times mid-task (inside onnxruntime) and keeps serving`, async () => {
    const sockets = await streamingClients();
    const outcomes: Outcome[] = [];
    let stop = false;
    const loops = Array.from({ length: 3 }, () => verifyLoop(outcomes, () => stop));
    await sleep(2_000);
    const verdictsBefore = verdicts;
    const before = pool.stats;
    let retired = 0;
    const started = Date.now();
    for (let round = 0; retired < RETIREMENTS; round++) {
      // Retiring needs busy threads: if nothing keeps them busy any more, say why instead of spinning.
      if (Date.now() - started > 240_000) {
        throw new Error(
          `retired ${retired} of ${RETIREMENTS} threads in 240 s; verifications ${JSON.stringify(tally(outcomes))}; ` +
            `socket closes ${JSON.stringify(closes)}; verdicts ${verdicts}`,
        );
      }
      // Every other round, the next task stalls inside onnxruntime: it is retired mid-native-call.
      if (round % 2 === 1) faults.inject('stall', 1);
      await sleep(10 + (round % 5) * 10);
      retired += pool.retireBusyThreads();
    }
    await sleep(2_000);
    stop = true;
    await Promise.all(loops);
    const stats = pool.stats;
    console.info(
      `retired ${stats.retiredThreads - before.retiredThreads} threads (${stats.retiredInNative - before.retiredInNative} inside onnxruntime); ` +
        `verifications: ${JSON.stringify(tally(outcomes))}; verdicts ${verdicts} (${verdictsBefore} before); socket closes ${JSON.stringify(closes)}`,
    );
    expect(stats.retiredThreads - before.retiredThreads).toBeGreaterThanOrEqual(RETIREMENTS);
    expect(stats.retiredInNative - before.retiredInNative).toBeGreaterThan(0);
    expectOnlyCataloguedFailures(outcomes);
    expect(outcomes.filter((o) => o.status === 200).length).toBeGreaterThan(0);
    expect(verdicts).toBeGreaterThan(verdictsBefore);
    expect(closes.filter((code) => code !== 1000 && !isReconnectWorthy(code))).toEqual([]);
    sockets.stop();
    await expectServingAgain();
  }, 600_000);

  it('survives timeouts forced by a scoring path slowed inside onnxruntime, then serves normally', async () => {
    const sockets = await streamingClients();
    const outcomes: Outcome[] = [];
    let stop = false;
    const before = pool.stats;
    // The next tasks (HTTP and socket batches alike) stall inside onnxruntime past the timeout.
    faults.inject('stall', 30);
    const loops = Array.from({ length: 3 }, () => verifyLoop(outcomes, () => stop));
    await eventually(() => outcomes.filter((o) => o.code === 'SCORING_TIMEOUT').length >= 3, 60_000, 'three timeouts');
    faults.inject('stall', 0);
    stop = true;
    await Promise.all(loops);
    const stats = pool.stats;
    console.info(
      `timeouts: ${JSON.stringify(tally(outcomes))}; threads retired inside onnxruntime: ${stats.retiredInNative - before.retiredInNative}`,
    );
    expectOnlyCataloguedFailures(outcomes);
    // A task can also time out while queued behind stalled ones: it is skipped, no thread retired.
    expect(stats.retiredInNative - before.retiredInNative).toBeGreaterThan(0);
    expect(closes.filter((code) => code !== 1000 && !isReconnectWorthy(code))).toEqual([]);
    sockets.stop();
    await expectServingAgain();
  }, 120_000);
});
