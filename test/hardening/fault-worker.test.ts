import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signUpMember, type Member } from './support/accounts.ts';
import { enrol, enrolment, enrolmentCsv } from './support/biometric-data.ts';
import { eventually, sleep, startCluster, type Cluster } from './support/cluster.ts';
import { startHoldingSmtp } from './support/holding-smtp.ts';
import { isRunning, trainingChildrenOf } from './support/processes.ts';
import { LoadDriver, contractBreaches, summary } from './support/load-driver.ts';

// The worker process (workers/main.ts: mail/SMS delivery and model training) killed with SIGKILL
// in the middle of jobs, while the gateways carry load. Expected: the gateways do not notice (they
// only enqueue); a new worker process finishes what the dead one held — each mail arrives exactly
// once (the SMTP server never acknowledged the interrupted send, so the retry is the delivery) and
// an interrupted training ends with exactly one model version.
// JOB_LOCK_OPTIONS (src/storage/queues.ts) bound the wait for both queues: ~15 s (BullMQ's own defaults: ~60 s).
const RECOVER_WITHIN_MS = 30_000;
const DELIVERY_RECOVERS_WITHIN_MS = 25_000;
let cluster: Cluster;
let smtp: Awaited<ReturnType<typeof startHoldingSmtp>>;
let members: Member[];
let driver: LoadDriver;

beforeAll(async () => {
  smtp = await startHoldingSmtp();
  cluster = await startCluster({
    gateways: 2,
    workers: 1,
    env: {
      VIGIL_CV_ENABLED: 'false',
      VIGIL_SMTP_HOST: '127.0.0.1',
      VIGIL_SMTP_PORT: String(smtp.port),
      VIGIL_MAIL_FROM: 'Vigil <auth@vigil.test>',
    },
  });
  members = [];
  for (let i = 0; i < 4; i++) members.push(await signUpMember(cluster.gateways[i % 2]!.url, 'fw'));
  driver = new LoadDriver(() => cluster.gateways.map((g) => g.url), members.slice(1), { concurrency: 3, sockets: 4 });
  driver.start();
  await sleep(1_000);
}, 120_000);

afterAll(async () => {
  await driver?.stop();
  await cluster?.close();
  await smtp?.close();
});

/** A mail's Subject, MIME encoded-words (RFC 2047, as nodemailer writes Korean) decoded. */
function subjectOf(raw: string): string {
  const header = /^Subject: (.*(?:\r?\n[ \t].*)*)/m.exec(raw)?.[1] ?? '';
  return header.replace(/\r?\n[ \t]/g, ' ').replace(/=\?utf-8\?([bq])\?([^?]*)\?=\s*/gi, (_, kind: string, text: string) =>
    kind.toLowerCase() === 'b'
      ? Buffer.from(text, 'base64').toString('utf8')
      : Buffer.from(
          text.replace(/_/g, ' ').replace(/=([0-9a-f]{2})/gi, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16))),
          'latin1',
        ).toString('utf8'),
  );
}

// Code mails only: an enrolment also mails its owner that the biometric model changed.
const mailsTo = (email: string) => smtp.accepted.filter((m) => m.to.includes(email) && !/biometric|생체/.test(subjectOf(m.raw)));

/** Worker processes killed outright in this file, each possibly mid-send. */
const WORKER_KILLS = 3;

describe('the worker process killed mid-job', () => {
  it('delivers each mail of a send interrupted by the kill exactly once, through the next worker', async () => {
    const target = members[0]!;
    smtp.hold(true);
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`${cluster.gateways[i % 2]!.url}/v1/codes`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ channel: 'email', to: target.email, purpose: 'login', locale: 'en' }),
      });
      expect(res.status).toBe(202);
    }
    // The worker has handed all three to SMTP and waits for the server's answer: kill it now.
    await eventually(() => smtp.held(target.email) >= 3, 20_000, 'three sends in flight');
    const killedAt = Date.now();
    try {
      await cluster.workers[0]!.kill();
      // Their connections died with the worker: nothing was acknowledged, nothing is delivered.
      await eventually(() => smtp.orphaned(target.email) === 3, 10_000, 'the SMTP sessions to end');
    } finally {
      smtp.hold(false);
      smtp.release();
      await cluster.addWorker();
    }
    expect(mailsTo(target.email)).toHaveLength(0);
    await eventually(() => mailsTo(target.email).length >= 3, DELIVERY_RECOVERS_WITHIN_MS, 'the three mails');
    console.info(`interrupted mails delivered ${Date.now() - killedAt} ms after the kill`);
    await sleep(3_000);
    expect(mailsTo(target.email)).toHaveLength(3);
    // Three different codes: each job delivered once, none twice in place of another.
    const codes = mailsTo(target.email).map((m) => /^Subject: Your Vigil code: (\d{6})/m.exec(m.raw)?.[1]);
    expect(codes.every(Boolean)).toBe(true);
    expect(new Set(codes).size).toBe(3);
  }, 120_000);

  it('finishes a training the kill interrupted, with exactly one model version', async () => {
    const member = members[1]!;
    const id = await enrol(cluster.gateways[0]!.url, member.accessToken, await enrolmentCsv(2));
    await eventually(
      async () => (await enrolment(cluster.gateways[0]!.url, member.accessToken, id))?.status === 'training',
      20_000,
      'training started',
    );
    const killedAt = Date.now();
    await cluster.workers.at(-1)!.kill();
    await cluster.addWorker();
    const view = await eventually(
      async () => {
        const v = await enrolment(cluster.gateways[1]!.url, member.accessToken, id);
        return v && (v.status === 'ready' || v.status === 'failed') ? v : undefined;
      },
      RECOVER_WITHIN_MS,
      'training settled',
    );
    console.info(`interrupted training settled ${Date.now() - killedAt} ms after the kill: ${view.status}`);
    expect(view.status).toBe('ready');
    const model = (await (
      await fetch(`${cluster.gateways[0]!.url}/v1/biometrics/model`, {
        headers: { authorization: `Bearer ${member.accessToken}` },
      })
    ).json()) as {
      versions: number[];
    };
    expect(model.versions).toEqual([1]);
    // The worker that trained it keeps its training child for the next job. Killed outright, the
    // worker must not leave that idle child behind (orphaned, it would hold Mongo connections forever).
    const trainer = cluster.workers.at(-1)!;
    const children = trainingChildrenOf(trainer.child.pid!);
    expect(children.length).toBeGreaterThan(0);
    await trainer.kill();
    await cluster.addWorker();
    await eventually(() => children.every((pid) => !isRunning(pid)), 10_000, 'the killed worker’s training child to exit');
  }, 120_000);

  it('kept the gateways serving throughout, and every code the load asked for arrived exactly once', async () => {
    await driver.stop();
    expect(cluster.allAlive()).toBe(true);
    console.info(`load: ${summary(driver.samples)}`);
    expect(contractBreaches(driver.samples)).toEqual([]);
    expect(driver.samples.filter((s) => s.status >= 500)).toEqual([]);
    const askedFor = (email: string) =>
      driver.samples.filter((s) => s.op === 'code' && s.status === 202 && s.email === email).length;
    expect(
      members
        .slice(1)
        .map((m) => askedFor(m.email))
        .every((n) => n > 0),
    ).toBe(true);
    // Exactly once, except the documented window (docs/operations.md, "Exactly-once effects"): a
    // worker killed between the SMTP server's acceptance and its "sent" record sends that mail
    // again. Three kills here: at most one such mail each, never a systematic duplicate.
    let duplicates = 0;
    for (const member of members.slice(1)) {
      await eventually(() => mailsTo(member.email).length >= askedFor(member.email), 30_000, `mails for ${member.email}`);
      await sleep(500);
      const extra = mailsTo(member.email).length - askedFor(member.email);
      expect(extra).toBeGreaterThanOrEqual(0);
      duplicates += extra;
    }
    console.info(`mails sent twice (a kill between acceptance and the sent record): ${duplicates}`);
    expect(duplicates).toBeLessThanOrEqual(WORKER_KILLS);
  }, 120_000);
});
