/**
 * The biometric service end to end, in one gateway process (embedded training worker, one
 * scoring thread): enrolment → model ready latency (BullMQ job in a worker thread), the
 * gateway's event-loop delay while models train, and POST /v1/biometrics/verify latency and CPU
 * for a 30 s upload (23 windows) and a large one (~800 windows).
 *
 *   npx tsx bench/biometric-service.ts [--members 10] [--verifies 30]
 *
 * Data: walking recordings of the shared WISDM set (through the harness' importer).
 */
import { randomBytes } from 'node:crypto';
import { cpus } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import type { BiometricsModule } from '../src/biometrics/biometrics-module.ts';
import { sampleSet, type SampleSet } from '../src/biometrics/samples.ts';
import { loadConfig } from '../src/config/config.ts';
import { startGateway } from '../src/gateway/gateway.ts';
import { importWisdm } from '../scripts/eval/wisdm-importer.ts';
import { dropTestData } from '../test/support/gateway.ts';
import { loadAverage } from './bench-env.ts';

const { values: args } = parseArgs({
  options: { members: { type: 'string', default: '10' }, verifies: { type: 'string', default: '30' } },
});
const MEMBERS = Number(args.members);
const VERIFIES = Number(args.verifies);
const DATA = process.env.WISDM_DIR ?? fileURLToPath(new URL('../test/fixtures/wisdm-walking', import.meta.url));

const id = randomBytes(4).toString('hex');
const config = loadConfig({
  ...process.env,
  NODE_ENV: 'production',
  VIGIL_JWT_KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64url'),
  VIGIL_BIOMETRIC_KEYS: `bench:${randomBytes(32).toString('base64')}`,
  PORT: '0',
  LOG_LEVEL: 'warn',
  MONGO_DB: `vigil_bench_${id}`,
  REDIS_PREFIX: `vigil:bench:${id}:`,
  VIGIL_SCORING_THREADS: '1',
  VIGIL_BIOMETRIC_ENROLLMENTS_PER_HOUR: '100000',
  VIGIL_BIOMETRIC_VERIFY_PER_MINUTE: '100000',
  VIGIL_BIOMETRIC_VERIFY_WINDOWS_PER_HOUR: '1000000',
  VIGIL_SIGNUP_PER_IP_HOURLY: '100000',
  VIGIL_LOGIN_PER_IP: '100000',
});

const toCsv = (s: SampleSet) => {
  const c = s.channels.length;
  const lines = [s.channels.join(',')];
  for (let r = 0; r < s.length; r++) lines.push(Array.from(s.data.subarray(r * c, (r + 1) * c)).join(','));
  return `${lines.join('\n')}\n`;
};
const slice = (s: SampleSet, from: number, to: number) => sampleSet(s.rate, s.channels, s.data.subarray(from * 3, to * 3));
const quantile = (xs: number[], q: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))] ?? NaN;
const ms = (v: number) => v.toFixed(1).padStart(8);

async function main(): Promise<void> {
  const recordings = (await importWisdm(DATA)).filter((r) => r.activity === 'A');
  const gw = await startGateway(config);
  const base = `http://127.0.0.1:${gw.port}`;
  const service = (gw.modules.find((m) => m.name === 'biometrics') as BiometricsModule).service;
  const json = (body: unknown) => ({
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const user = async (name: string) => {
    await fetch(`${base}/v1/accounts`, json({ username: name, password: 'bench passphrase 1' }));
    const login = (await (
      await fetch(`${base}/v1/sessions`, json({ identifier: name, password: 'bench passphrase 1' }))
    ).json()) as {
      accessToken: string;
      user: { id: string };
    };
    return { id: login.user.id, headers: { authorization: `Bearer ${login.accessToken}` } };
  };

  try {
    console.log(
      `Vigil biometric service bench — node ${process.version}, ${cpus().length}× ${cpus()[0]?.model ?? '?'}, load average ${loadAverage()}`,
    );
    // 0. What an idle gateway's event loop looks like on this (shared) machine: the baseline.
    const idle = monitorEventLoopDelay({ resolution: 5 });
    idle.enable();
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    idle.disable();
    console.log(
      `\nidle gateway, 3 s: event-loop delay p50 ${(idle.percentile(50) / 1e6).toFixed(1)} ms, p99 ${(idle.percentile(99) / 1e6).toFixed(1)} ms, max ${(idle.max / 1e6).toFixed(1)} ms (the machine's scheduling noise)`,
    );

    // 1. Enrolments, one after another (each with the previous members as its cohort).
    const loop = monitorEventLoopDelay({ resolution: 5 });
    const rows: { members: number; endToEnd: number; training: number; detector: string }[] = [];
    // Accounts and bodies first: the client shares this process, and its work is not the gateway's.
    const count = Math.min(MEMBERS, recordings.length);
    const users = [];
    for (let i = 0; i < count; i++) users.push(await user(`bench${i}`));
    const bodies = recordings.slice(0, count).map((r) => toCsv(slice(r.samples, 0, 1500)));
    loop.enable();
    for (let i = 0; i < count; i++) {
      const u = users[i]!;
      const started = performance.now();
      const reply = (await (
        await fetch(`${base}/v1/biometrics/enrollments?rate=20`, {
          method: 'POST',
          headers: { ...u.headers, 'content-type': 'text/csv' },
          body: bodies[i],
        })
      ).json()) as { enrollmentId: string };
      const view = await service.waitForEnrollment(u.id, reply.enrollmentId, 120_000);
      if (view.status !== 'ready') throw new Error(`enrolment ${i}: ${view.status} ${JSON.stringify(view.error)}`);
      const model = await service.model(u.id);
      rows.push({
        members: view.metrics?.cohortMembers ?? 0,
        endToEnd: performance.now() - started,
        training: view.metrics?.trainingMs ?? 0,
        detector: model.detector,
      });
    }
    loop.disable();
    console.log('\nenrolment (59 windows each; POST → ready as the service hears it)');
    console.log('  cohort  detector            POST→ready ms  trainModel ms');
    for (const r of rows)
      console.log(`  ${String(r.members).padStart(6)}  ${r.detector.padEnd(18)} ${ms(r.endToEnd)}       ${ms(r.training)}`);
    console.log(
      `  gateway event-loop delay while training: p50 ${(loop.percentile(50) / 1e6).toFixed(1)} ms, p99 ${(loop.percentile(99) / 1e6).toFixed(1)} ms, max ${(loop.max / 1e6).toFixed(1)} ms`,
    );

    // 2. Verification latency and gateway CPU per window.
    const owner = users[0]!;
    const small = toCsv(slice(recordings[0]!.samples, recordings[0]!.samples.length - 600, recordings[0]!.samples.length));
    const bigSamples = sampleSet(
      20,
      ['x', 'y', 'z'],
      Float32Array.from({ length: 20_000 * 3 }, (_, k) => Math.sin(k / 7) * 4 + ((k * 7919) % 13) / 13),
    );
    const big = toCsv(bigSamples);
    for (const [label, body, count] of [
      ['30 s upload (23 windows)', small, VERIFIES],
      ['1,000 s upload (799 windows)', big, Math.max(3, Math.floor(VERIFIES / 5))],
    ] as const) {
      const times: number[] = [];
      const delay = monitorEventLoopDelay({ resolution: 5 });
      let windows = 0;
      const cpu0 = process.cpuUsage();
      delay.enable();
      for (let i = 0; i < count; i++) {
        const t = performance.now();
        const res = await fetch(`${base}/v1/biometrics/verify`, {
          method: 'POST',
          headers: { ...owner.headers, 'content-type': 'text/csv' },
          body,
        });
        const result = (await res.json()) as { total: number };
        if (res.status !== 200) throw new Error(`verify answered ${res.status}: ${JSON.stringify(result)}`);
        times.push(performance.now() - t);
        windows += result.total;
      }
      delay.disable();
      const cpu = process.cpuUsage(cpu0);
      console.log(
        `\nverify, ${label}, ${count} sequential requests: p50 ${quantile(times, 0.5).toFixed(1)} ms, p90 ${quantile(times, 0.9).toFixed(1)} ms; ` +
          `process CPU ${((cpu.user + cpu.system) / windows).toFixed(0)} µs/window (all threads, client included); ` +
          `event-loop delay max ${(delay.max / 1e6).toFixed(1)} ms`,
      );
    }
  } finally {
    await gw.close();
    await dropTestData(config);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
