/**
 * Accuracy through the product, as a deployment sees it: a fresh gateway (own empty database),
 * accounts signed up and enrolled over HTTP one after another (so the cohort grows from zero,
 * topped up by the background population unless --background off), each on the first
 * --enrol-seconds of a walk, then every account's model verified over HTTP on the last
 * --test-seconds of its owner's walk (genuine) and of every other account's (impostors).
 * Scores are the per-window scores the verify route returns.
 *
 *   npx tsx scripts/eval/product-path.ts [--data DIR] [--activity A] [--subjects 1600-1612]
 *       [--enrol-seconds 70] [--test-seconds 40] [--background builtin|off|FILE] [--json file]
 *
 * The people evaluated must not be in the background population (the script refuses): the
 * shipped asset holds WISDM walkers 1613–1625. Needs Redis and FerretDB (scripts/services.sh).
 */
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { MongoClient } from 'mongodb';
import type { ModelSummary, VerificationResult } from '../../protocol/biometrics.ts';
import { loadBackground } from '../../src/biometrics/background/background-population.ts';
import { sampleSet, type SampleSet } from '../../src/biometrics/samples.ts';
import { spawnChildGateway } from '../child-gateway.ts';
import { horizonsFor, horizonMetrics, pct, trustReplay, type SubjectResult } from './eval-core.ts';
import { sampleFeatureSpec } from '../../src/biometrics/features/feature-spec.ts';
import { importWisdm } from './wisdm-importer.ts';
import { subjectList } from './subject-folds.ts';

const { values: args } = parseArgs({
  options: {
    data: { type: 'string', default: 'test/fixtures/wisdm-walking' },
    activity: { type: 'string', default: 'A' },
    subjects: { type: 'string', default: '1600-1612' },
    'enrol-seconds': { type: 'string', default: '70' },
    'test-seconds': { type: 'string', default: '40' },
    background: { type: 'string', default: 'builtin' },
    /** The cohort pool's vetting (verified accounts older than a week): on as in production; off lets the accounts just made join. */
    'cohort-vetting': { type: 'string', default: 'on' },
    json: { type: 'string' },
  },
});

function csv(samples: SampleSet): string {
  const c = samples.channels.length;
  const lines = [samples.channels.join(',')];
  for (let r = 0; r < samples.length; r++) lines.push(Array.from(samples.data.subarray(r * c, (r + 1) * c)).join(','));
  return `${lines.join('\n')}\n`;
}

const rows = (s: SampleSet, from: number, to: number) =>
  sampleSet(s.rate, s.channels, s.data.subarray(from * s.channels.length, to * s.channels.length));

async function http<T>(url: string, init: RequestInit & { expect: number }): Promise<T> {
  const reply = await fetch(url, init);
  const text = await reply.text();
  if (reply.status !== init.expect)
    throw new Error(`${init.method ?? 'GET'} ${url} answered ${reply.status}: ${text.slice(0, 400)}`);
  return JSON.parse(text) as T;
}

async function main(): Promise<void> {
  const started = performance.now();
  const wanted = subjectList(args.subjects);
  const background = await loadBackground(args.background);
  const inBackground = ((background?.source['subjects'] as string[] | undefined) ?? []).filter((s) => wanted.has(s));
  if (inBackground.length > 0)
    throw new Error(`subjects ${inBackground.join(', ')} are in the background population: evaluate other people`);
  const walks = (await importWisdm(resolve(args.data))).filter((r) => r.activity === args.activity && wanted.has(r.subject));
  if (walks.length < 3)
    throw new Error(`only ${walks.length} recordings of activity ${args.activity} for --subjects ${args.subjects}`);
  const rate = (walks[0] as (typeof walks)[number]).samples.rate;
  const enrolRows = Math.round(Number(args['enrol-seconds']) * rate);
  const testRows = Math.round(Number(args['test-seconds']) * rate);
  for (const w of walks)
    if (w.samples.length < enrolRows + testRows) throw new Error(`subject ${w.subject}: recording shorter than enrolment + test`);

  const id = randomBytes(4).toString('hex');
  const database = `vigil_eval_${id}`;
  const adminToken = randomBytes(24).toString('hex');
  const gw = await spawnChildGateway({
    NODE_ENV: 'production',
    // What production requires: sealed signing keys and biometric data; per-window scores come
    // from the operator's verify route (the account's own answers counts only).
    VIGIL_JWT_KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64url'),
    VIGIL_BIOMETRIC_KEYS: `eval:${randomBytes(32).toString('base64')}`,
    VIGIL_ADMIN_TOKEN: adminToken,
    VIGIL_BIOMETRIC_COHORT_VETTING: args['cohort-vetting'] === 'off' ? 'false' : 'true',
    LOG_LEVEL: 'info', // the port is read from the 'listening' line
    MONGO_DB: database,
    REDIS_PREFIX: `vigil:eval:${id}:`,
    VIGIL_SIGNUP_PER_IP_HOURLY: '100000',
    VIGIL_LOGIN_PER_IP: '100000',
    VIGIL_BIOMETRIC_ENROLLMENTS_PER_HOUR: '100000',
    VIGIL_BIOMETRIC_VERIFY_PER_MINUTE: '100000',
    VIGIL_CV_ENABLED: 'false',
    VIGIL_SCORING_THREADS: '1',
    VIGIL_BIOMETRIC_BACKGROUND: args.background,
  });
  try {
    const accounts: {
      subject: string;
      userId: string;
      headers: Record<string, string>;
      model: ModelSummary;
      cohortMembers: number;
    }[] = [];
    const json = { 'content-type': 'application/json' };
    // One after another: each account trains against the accounts before it (plus background).
    for (const w of walks) {
      const username = `eval${w.subject}x${id}`;
      const password = 'evaluation passphrase 1';
      const signUp = await http<{ account: { id: string } }>(`${gw.url}/v1/accounts`, {
        method: 'POST',
        headers: json,
        body: JSON.stringify({ username, password }),
        expect: 201,
      });
      const login = await http<{ accessToken: string }>(`${gw.url}/v1/sessions`, {
        method: 'POST',
        headers: json,
        body: JSON.stringify({ identifier: username, password }),
        expect: 201,
      });
      const headers = { authorization: `Bearer ${login.accessToken}` };
      const queued = await http<{ enrollmentId: string }>(`${gw.url}/v1/biometrics/enrollments?rate=${rate}&modality=motion`, {
        method: 'POST',
        headers: { ...headers, 'content-type': 'text/csv' },
        body: csv(rows(w.samples, 0, enrolRows)),
        expect: 202,
      });
      for (;;) {
        const view = await http<{ status: string; error?: unknown }>(
          `${gw.url}/v1/biometrics/enrollments/${queued.enrollmentId}`,
          {
            headers,
            expect: 200,
          },
        );
        if (view.status === 'ready') break;
        if (view.status === 'failed') throw new Error(`enrolment of ${w.subject} failed: ${JSON.stringify(view.error)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      const model = await http<ModelSummary>(`${gw.url}/v1/biometrics/model`, { headers, expect: 200 });
      accounts.push({
        subject: w.subject,
        userId: signUp.account.id,
        headers,
        model,
        cohortMembers: model.metrics.cohortMembers,
      });
    }
    const tests = walks.map((w) => csv(rows(w.samples, w.samples.length - testRows, w.samples.length)));
    const results: (SubjectResult & { strangers: Float32Array[] })[] = [];
    for (const [k, account] of accounts.entries()) {
      const scores: Float32Array[] = [];
      for (const body of tests) {
        const result = await http<VerificationResult>(`${gw.url}/v1/admin/accounts/${account.userId}/biometrics/verify`, {
          method: 'POST',
          headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'text/csv' },
          body,
          expect: 200,
        });
        scores.push(Float32Array.from(result.windows, (w) => w.score));
      }
      results.push({
        subject: account.subject,
        threshold: account.model.threshold,
        genuine: scores[k] as Float32Array,
        impostors: scores.filter((_, j) => j !== k),
        // Accounts enrolled after this one: never in its cohort.
        strangers: scores.slice(k + 1),
        model: account.model,
      });
    }

    const first = walks[0] as (typeof walks)[number];
    const spec = sampleFeatureSpec({ rate, channels: first.samples.channels, modality: 'motion' });
    const horizons = horizonsFor(spec);
    console.log(
      `Vigil accuracy through the product — ${walks.length} accounts enrolled one after another over HTTP on a fresh gateway ` +
        `(background ${background ? `${background.id}, ${background.members.length} members` : 'off'}, cohort vetting ${args['cohort-vetting']}); ` +
        `enrolment ${args['enrol-seconds']} s, verification ${args['test-seconds']} s; cohort members at training: ` +
        accounts.map((a) => a.cohortMembers).join(', ') +
        `; detectors: ${[...new Set(accounts.map((a) => a.model.detector))].join(', ')}`,
    );
    const strangerResults = results.filter((r) => r.strangers.length > 0).map((r) => ({ ...r, impostors: r.strangers }));
    const table = [];
    console.log('impostors               horizon     windows  EER(mean) EER(pooled)  FAR@thr  FRR@thr');
    for (const [label, set] of [
      ['every other account', results],
      ['later accounts only', strangerResults],
    ] as const) {
      for (const [h, w] of horizons) {
        const row = horizonMetrics(set, h, w);
        table.push({ impostors: label, ...row });
        console.log(
          `${label.padEnd(23)} ${h.padEnd(11)} ${String(w).padStart(7)}  ${pct(row.eer)}   ${pct(row.pooledEer)}  ${pct(row.far)}  ${pct(row.frr)}`,
        );
      }
    }
    const trust = trustReplay(results);
    console.log(
      `trust: ${trust.streams} genuine→impostor streams, ${pct(trust.falseImpostorStreams).trim()} genuine parts ever 'impostor', ` +
        `impostor caught in ${pct(trust.detected).trim()} (median ${trust.medianDelay}, p95 ${trust.p95Delay} windows)`,
    );
    if (args.json) await writeFile(resolve(args.json), JSON.stringify({ args, table, trust }, null, 2));
  } finally {
    await gw.stop();
    const client = new MongoClient(process.env.MONGO_URL ?? 'mongodb://127.0.0.1:27017/vigil');
    await client
      .connect()
      .then(() => client.db(database).dropDatabase())
      .finally(() => client.close());
  }
  console.log(`total ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
