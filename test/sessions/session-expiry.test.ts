import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sessionLifetimes } from '../../src/sessions/sessions-module.ts';
import { testConfig } from '../support/config.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { errorCode, json, sleep, startNode, type Node } from './support.ts';

// Sessions end after an idle period without refresh, and at their absolute end however active;
// access tokens never outlive the absolute end.
let gw: TestGateway;
let node: Node;

beforeAll(async () => {
  gw = await startTestGateway({
    VIGIL_ACCESS_TOKEN_TTL_SECONDS: '1',
    VIGIL_SESSION_IDLE_TTL_SECONDS: '2',
    VIGIL_SESSION_ABSOLUTE_TTL_SECONDS: '4',
    VIGIL_JWT_CLOCK_TOLERANCE_SECONDS: '0',
  });
  node = await startNode(gw.config);
});
afterAll(async () => {
  await node?.close();
  await gw?.close();
});

const refresh = (refreshToken: string) => fetch(`${gw.url}/v1/sessions/refresh`, json({ refreshToken }));

describe('session lifetime', () => {
  it('ends a session left idle, and keeps one that refreshes until its absolute end', async () => {
    const idle = await node.core.sessions.start({ userId: 'u-idle' });
    const busy = await node.core.sessions.start({ userId: 'u-busy' });
    const absoluteEnd = busy.session.expiresAt;

    let refreshToken = busy.tokens.refreshToken;
    let lastAccess = busy.tokens.accessToken;
    for (let i = 0; i < 3; i++) {
      await sleep(1_000);
      const res = await refresh(refreshToken);
      expect(res.status).toBe(200);
      const pair = (await res.json()) as { refreshToken: string; accessToken: string; accessTokenExpiresAt: number };
      expect(pair.accessTokenExpiresAt * 1000).toBeLessThanOrEqual(absoluteEnd);
      refreshToken = pair.refreshToken;
      lastAccess = pair.accessToken;
    }
    // 3 s in: the idle one (2 s) is gone, the busy one lives on.
    expect(await errorCode(await refresh(idle.tokens.refreshToken))).toMatch(/^(TOKEN_REVOKED|REFRESH_TOKEN_INVALID)$/);
    expect(await node.core.sessions.isLive(idle.session.id)).toBe(false);
    expect(await node.core.sessions.isLive(busy.session.id)).toBe(true);

    // Past the absolute end, refreshing no longer helps, and the last access token ended with it.
    await sleep(Math.max(0, absoluteEnd - Date.now()) + 300);
    expect((await refresh(refreshToken)).status).toBe(401);
    expect(decodeJwt(lastAccess).exp! * 1000).toBeLessThanOrEqual(absoluteEnd);
    expect(await node.core.sessions.isLive(busy.session.id)).toBe(false);
  });

  it('refuses lifetimes that contradict each other, naming the variables', () => {
    expect(() =>
      sessionLifetimes(testConfig({ VIGIL_ACCESS_TOKEN_TTL_SECONDS: '600', VIGIL_SESSION_IDLE_TTL_SECONDS: '60' })),
    ).toThrow('VIGIL_SESSION_IDLE_TTL_SECONDS must be at least VIGIL_ACCESS_TOKEN_TTL_SECONDS');
    expect(() =>
      sessionLifetimes(testConfig({ VIGIL_SESSION_IDLE_TTL_SECONDS: '600', VIGIL_SESSION_ABSOLUTE_TTL_SECONDS: '60' })),
    ).toThrow('VIGIL_SESSION_ABSOLUTE_TTL_SECONDS must be at least VIGIL_SESSION_IDLE_TTL_SECONDS');
    expect(sessionLifetimes(testConfig())).toEqual({ idleMs: 604_800_000, absoluteMs: 2_592_000_000 });
  });
});
