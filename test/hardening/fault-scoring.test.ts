import type { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { isReconnectWorthy } from '../../protocol/errors.ts';
import { StreamClient, type SampleStream } from '../../protocol/client/index.ts';
import { slice, toCsv, walking } from '../biometrics/support.ts';
import type { TestGateway } from '../support/gateway.ts';
import { signUpMember, type Member } from './support/accounts.ts';
import { enrol, enrolment, enrolmentCsv } from './support/biometric-data.ts';
import { eventually, sleep } from './support/cluster.ts';
import { startFuzzGateway } from './support/fuzz-gateway.ts';

// Scoring worker threads (the Piscina pool running onnxruntime) terminated in the middle of real
// tasks while HTTP verifications and streaming sockets keep them busy. Expected: the gateway
// never exits; a verification whose worker died is retried or fails with a catalogued 503
// (never a 500, never a hang); sockets keep streaming (verdicts resume) or close reconnect-worthy;
// the pool replaces its workers and every verification succeeds again afterwards.
// src/biometrics/scoring-pool.test.ts covers deaths the pool injects itself (exit, throw,
// hang) one task at a time; this kills whatever a worker happens to be running under load.
let gw: TestGateway;
let member: Member;
let verifyCsv: string;
const outcomes: Array<{ status: number; code?: string; ms: number }> = [];
const closes: number[] = [];
let verdicts = 0;

/**
 * The gateway's scoring pool's worker threads. The pool does not expose them (nothing but this
 * test should kill them), so they are reached through its private fields.
 */
function scoringThreads(): Worker[] {
  const module = gw.gateway.modules.find((m) => m.name === 'biometrics') as unknown as {
    service: { deps: { pool(): { piscina: { threads: Worker[] } } } };
  };
  return module.service.deps.pool().piscina.threads;
}

beforeAll(async () => {
  gw = await startFuzzGateway({
    VIGIL_SCORING_THREADS: '2',
    VIGIL_BIOMETRIC_VERIFY_PER_MINUTE: '100000',
    VIGIL_BIOMETRIC_VERIFY_WINDOWS_PER_HOUR: '100000000',
  });
  member = await signUpMember(gw.url, 'sc');
  const id = await enrol(gw.url, member.accessToken, await enrolmentCsv(0));
  await eventually(async () => (await enrolment(gw.url, member.accessToken, id))?.status === 'ready', 60_000, 'model trained');
  const subjects = [...(await walking()).values()];
  verifyCsv = toCsv(slice(subjects[0]!, 1500, 2100));
}, 120_000);

afterAll(async () => {
  await gw?.close();
});

async function verifyLoop(until: () => boolean): Promise<void> {
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

describe('scoring workers killed mid-task under load', () => {
  it('retries or refuses with a catalogued 503, keeps sockets verifying, and serves normally once the pool has replaced them', async () => {
    // Sockets streaming the owner's walk: their windows are scored in the same pool.
    const samples = [...(await walking()).values()][0]!;
    const clients: Array<{ client: StreamClient; stream?: SampleStream }> = [];
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
      clients.push(entry);
      await client.connect();
    }
    let offset = 0;
    const ticker = setInterval(() => {
      const chunk = slice(samples, offset % 2000, (offset % 2000) + 10);
      offset += 10;
      for (const { stream } of clients) stream?.send(chunk.data);
    }, 100);

    let stop = false;
    const loops = Array.from({ length: 3 }, () => verifyLoop(() => stop));
    await sleep(2_000);
    const verdictsBefore = verdicts;
    // Terminate a worker thread ten times, whatever it is running.
    for (let i = 0; i < 10; i++) {
      const threads = scoringThreads();
      if (threads.length > 0) await threads[i % threads.length]!.terminate();
      await sleep(300);
    }
    const killedUntil = outcomes.length;
    await sleep(3_000);
    stop = true;
    await Promise.all(loops);
    clearInterval(ticker);

    const byStatus = outcomes.reduce<Record<string, number>>(
      (acc, o) => ((acc[`${o.status} ${o.code ?? ''}`.trim()] = (acc[`${o.status} ${o.code ?? ''}`.trim()] ?? 0) + 1), acc),
      {},
    );
    console.info(
      `verifications: ${JSON.stringify(byStatus)}; verdicts ${verdicts} (${verdictsBefore} before the kills); socket closes ${JSON.stringify(closes)}`,
    );
    expect(
      outcomes.filter((o) => o.status === 0 || (o.status >= 500 && !(o.status === 503 && /^SCORING_/.test(o.code ?? '')))),
    ).toEqual([]);
    expect(outcomes.filter((o) => o.ms >= 10_000)).toEqual([]);
    // After the pool replaced its workers, everything succeeds again.
    expect(outcomes.slice(killedUntil + 3).every((o) => o.status === 200)).toBe(true);
    expect(verdicts).toBeGreaterThan(verdictsBefore);
    expect(closes.filter((code) => code !== 1000 && !isReconnectWorthy(code))).toEqual([]);
    for (const { client } of clients) client.close();
    expect((await fetch(`${gw.url}/healthz`)).status).toBe(200);
  });
});
