import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type Gateway } from '../../src/gateway/gateway.ts';
import type { TestGateway } from '../support/gateway.ts';
import { logIn, signUpMember } from './support/accounts.ts';
import { startFuzzGateway } from './support/fuzz-gateway.ts';

// Refresh rotation and revocation under races, with the requests spread over two gateways that
// share Redis and Mongo (test/sessions/refresh-rotation.test.ts covers one process: a retry in
// the grace period, reuse after it, concurrent presentations at one gateway). What must hold:
// a family never has two live refresh tokens; a session ended while a refresh is in flight stays
// ended — no pair minted in the race outlives it, on either gateway.
const GRACE_MS = 300;
let a: TestGateway;
let b: Gateway;
let urls: [string, string];

beforeAll(async () => {
  a = await startFuzzGateway({ VIGIL_REFRESH_GRACE_MS: String(GRACE_MS) });
  b = await startGateway(a.config);
  urls = [a.url, `http://127.0.0.1:${b.port}`];
});
afterAll(async () => {
  await b?.close();
  await a?.close();
});

const at = (i: number) => urls[i % 2]!;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function refresh(
  url: string,
  refreshToken: string,
): Promise<{ status: number; accessToken?: string; refreshToken?: string; code?: string }> {
  const res = await fetch(`${url}/v1/sessions/refresh`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ refreshToken }),
  });
  const body = (await res.json()) as { accessToken?: string; refreshToken?: string; error?: { code: string } };
  return { status: res.status, accessToken: body.accessToken, refreshToken: body.refreshToken, code: body.error?.code };
}

async function accessWorks(url: string, token: string): Promise<boolean> {
  const res = await fetch(`${url}/v1/accounts/me`, { headers: { authorization: `Bearer ${token}` } });
  return res.status === 200;
}

async function refreshWorks(url: string, token: string): Promise<boolean> {
  // A probe that spends the token; only used after the race, when nothing may work anymore.
  return (await refresh(url, token)).status === 200;
}

describe('refresh and revocation races across two gateways', () => {
  it('hands one pair to concurrent presentations of one refresh token, whichever gateway they reach', async () => {
    const member = await signUpMember(a.url, 'race');
    for (let round = 0; round < 5; round++) {
      const answers = await Promise.all(Array.from({ length: 8 }, (_, i) => refresh(at(i), member.refreshToken)));
      expect(answers.map((x) => x.status)).toEqual(Array(8).fill(200));
      expect(new Set(answers.map((x) => x.refreshToken)).size).toBe(1);
      expect(new Set(answers.map((x) => x.accessToken)).size).toBe(1);
      member.refreshToken = answers[0]!.refreshToken!;
      member.accessToken = answers[0]!.accessToken!;
      expect(await accessWorks(at(round + 1), member.accessToken)).toBe(true);
    }
  });

  it('never leaves two live refresh tokens in one family, whatever mix of current and old tokens races', async () => {
    const member = await signUpMember(a.url, 'fam');
    const issued = [member.refreshToken];
    let current = member.refreshToken;
    for (let round = 0; round < 6; round++) {
      // The holder rotates while an attacker replays an older token of the same family.
      const old = issued[Math.max(0, issued.length - 2)]!;
      const answers = await Promise.all([refresh(at(round), current), refresh(at(round + 1), old), refresh(at(round), current)]);
      for (const answer of answers) if (answer.refreshToken) issued.push(answer.refreshToken);
      const fresh = [...new Set(answers.flatMap((x) => (x.refreshToken ? [x.refreshToken] : [])))];
      expect(fresh.length).toBeLessThanOrEqual(1);
      if (fresh.length === 0) break; // the replay ended the session: nothing may be live
      current = fresh[0]!;
      await sleep(GRACE_MS + 100);
    }
    // Every token the family ever had: at most the last one still works.
    const live: string[] = [];
    for (const token of [...new Set(issued)].reverse()) if (await refreshWorks(a.url, token)) live.push(token);
    expect(live.length).toBeLessThanOrEqual(1);
  });

  it('keeps a session ended when logout races a refresh: no pair minted in the race survives, on either gateway', async () => {
    const member = await signUpMember(a.url, 'out');
    for (let round = 0; round < 10; round++) {
      const session = round === 0 ? member : { ...member, ...(await logIn(a.url, member.username, member.password)) };
      const [refreshed] = await Promise.all([
        refresh(at(round), session.refreshToken),
        fetch(`${at(round + 1)}/v1/sessions/current`, {
          method: 'DELETE',
          headers: { authorization: `Bearer ${session.accessToken}` },
        }),
      ]);
      await sleep(50); // revocations reach the other gateway within milliseconds; allow one event-loop round trip
      for (const url of urls) {
        expect(await accessWorks(url, session.accessToken), `round ${round} old access at ${url}`).toBe(false);
        if (refreshed.accessToken)
          expect(await accessWorks(url, refreshed.accessToken), `round ${round} raced access at ${url}`).toBe(false);
      }
      if (refreshed.refreshToken) expect(await refreshWorks(at(round), refreshed.refreshToken)).toBe(false);
      expect(await refreshWorks(at(round + 1), session.refreshToken)).toBe(false);
    }
  });

  it('keeps every session ended when "log out everywhere" races refreshes of several sessions', async () => {
    const member = await signUpMember(a.url, 'all');
    const sessions = [
      member,
      ...(await Promise.all(Array.from({ length: 3 }, () => logIn(a.url, member.username, member.password)))),
    ];
    const results = await Promise.all([
      ...sessions.map((s, i) => refresh(at(i), s.refreshToken)),
      fetch(`${urls[1]}/v1/sessions`, { method: 'DELETE', headers: { authorization: `Bearer ${member.accessToken}` } }).then(
        (r) => ({
          status: r.status,
        }),
      ),
    ]);
    expect(results.at(-1)!.status).toBe(200);
    await sleep(50);
    const tokens = [
      ...sessions.map((s) => s.accessToken),
      ...results.flatMap((r) => ('accessToken' in r && r.accessToken ? [r.accessToken] : [])),
    ];
    for (const url of urls) for (const token of tokens) expect(await accessWorks(url, token)).toBe(false);
  });

  it("rotates C's refresh tokens (the core family) under the same races", async () => {
    const member = await signUpMember(a.url, 'c');
    const post = (url: string, path: string, body: unknown) =>
      fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const answers = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        post(at(i), '/api/token/refresh/', { refresh: member.refreshToken }).then((r) => r.json()),
      ),
    );
    const pairs = answers as Array<{ access?: string; refresh?: string }>;
    expect(new Set(pairs.map((p) => p.refresh)).size).toBe(1);
    expect(pairs[0]!.refresh).toBeDefined();
    // C's logout by that refresh token ends the session everywhere.
    expect((await post(at(1), '/api/logout/', { refresh: pairs[0]!.refresh })).status).toBe(200);
    await sleep(50);
    for (const url of urls) expect(await accessWorks(url, pairs[0]!.access!)).toBe(false);
  });
});
