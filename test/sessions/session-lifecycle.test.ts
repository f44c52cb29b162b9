import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { bearer, errorCode, json, startNode, type Node } from './support.ts';

let gw: TestGateway;
let node: Node;

beforeAll(async () => {
  gw = await startTestGateway();
  node = await startNode(gw.config);
});
afterAll(async () => {
  await node?.close();
  await gw?.close();
});

describe('sessions made by the session service', () => {
  it('authenticates, lists, refreshes and logs out', async () => {
    const { session, tokens } = await node.core.sessions.start({ userId: 'u-1', ip: '10.0.0.1', userAgent: 'test' });
    const list = await fetch(`${gw.url}/v1/sessions`, { headers: bearer(tokens.accessToken) });
    expect(list.status).toBe(200);
    const body = (await list.json()) as { sessions: Array<{ id: string; current: boolean }> };
    expect(body.sessions).toEqual([expect.objectContaining({ id: session.id, current: true })]);

    const refreshed = await fetch(`${gw.url}/v1/sessions/refresh`, json({ refreshToken: tokens.refreshToken }));
    expect(refreshed.status).toBe(200);
    const pair = (await refreshed.json()) as { accessToken: string; refreshToken: string };
    expect(pair.refreshToken).not.toBe(tokens.refreshToken);

    const out = await fetch(`${gw.url}/v1/sessions/current`, { method: 'DELETE', headers: bearer(pair.accessToken) });
    expect(await out.json()).toEqual({ revoked: 1 });
    const after = await fetch(`${gw.url}/v1/sessions`, { headers: bearer(pair.accessToken) });
    expect(after.status).toBe(401);
    expect(await errorCode(after)).toBe('TOKEN_REVOKED');
  });
});
