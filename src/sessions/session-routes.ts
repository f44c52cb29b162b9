import type { Static } from '@sinclair/typebox';
import { VigilError } from '../../protocol/errors.ts';
import { ErrorBodySchema } from '../../protocol/http/common.ts';
import {
  RefreshBody,
  RefreshReply,
  RevokeAllQuery,
  RevokedReply,
  SessionIdParams,
  SessionListReply,
  type SessionView,
} from '../../protocol/http/sessions.ts';
import type { Device, DeviceStore } from '../identity/devices/device-store.ts';
import { defineRoute, type Authenticator, type Route } from '../server/http/route.ts';
import { requestContext } from '../server/http/request-context.ts';
import type { Principal } from '../server/http/principal.ts';
import { revocationAuthenticator } from './revocation-authenticator.ts';
import type { SessionRecord, SessionService } from './session-service.ts';

const unauthorized = { 401: ErrorBodySchema };

/** Refresh, and the caller's own sessions: list, revoke one, log out, revoke all. */
export function sessionRoutes(deps: {
  sessions: SessionService;
  auth: Authenticator<Principal>;
  /** Logging out is open to a session that could otherwise only enrol a second factor. */
  logoutAuth?: Authenticator<Principal>;
  devices?: DeviceStore;
}): Route[] {
  const { sessions, auth } = deps;
  // Every answer of the three revocation routes but 503 is given once replicas hold what it says.
  const revoking = revocationAuthenticator(auth, sessions);
  return [
    defineRoute({
      method: 'POST',
      path: '/v1/sessions/refresh',
      summary: 'Trade a refresh token for a new access + refresh pair (the old refresh token is spent)',
      tags: ['sessions'],
      schema: { body: RefreshBody, response: { 200: RefreshReply, 400: ErrorBodySchema, ...unauthorized } },
    }).handle(async ({ body, info }) => {
      const { sessionId, tokens } = await sessions.refresh(body.refreshToken, requestContext(info));
      return { status: 200, body: { ...tokens, sessionId } };
    }),

    defineRoute({
      method: 'GET',
      path: '/v1/sessions',
      summary: "The caller's live sessions, with device, IP, user agent, created and last seen",
      tags: ['sessions'],
      auth,
      schema: { response: { 200: SessionListReply, ...unauthorized } },
    }).handle(async ({ auth: principal }) => {
      const list = await sessions.list(principal.userId);
      const devices = deps.devices ? await deps.devices.list(principal.userId) : [];
      const byId = new Map(devices.map((d) => [d.id, d]));
      return {
        status: 200,
        body: { sessions: list.map((s) => sessionView(s, principal.sessionId, s.deviceId ? byId.get(s.deviceId) : undefined)) },
      };
    }),

    defineRoute({
      method: 'DELETE',
      path: '/v1/sessions/current',
      summary: 'Log out: end the session of this access token',
      tags: ['sessions'],
      auth: revocationAuthenticator(deps.logoutAuth ?? auth, sessions),
      schema: { response: { 200: RevokedReply, ...unauthorized } },
    }).handle(async ({ auth: principal, info }) => {
      // Answered once replicas hold it (REDIS_WAIT_REPLICAS), else 503 and the client logs out again;
      // a retry after it ended the session is refused as revoked, once replicas hold that too.
      const revoked = await sessions.revoke(
        principal.userId,
        principal.sessionId,
        'logout',
        requestContext(info, principal.sessionId),
        { requireReplicas: true },
      );
      return { status: 200, body: { revoked: revoked ? 1 : 0 } };
    }),

    defineRoute({
      method: 'DELETE',
      path: '/v1/sessions/:id',
      summary: "End one of the caller's sessions",
      tags: ['sessions'],
      auth: revoking,
      schema: {
        params: SessionIdParams,
        response: { 200: RevokedReply, 400: ErrorBodySchema, 404: ErrorBodySchema, ...unauthorized },
      },
    }).handle(async ({ auth: principal, params, info }) => {
      const revoked = await sessions.revoke(principal.userId, params.id, 'revoked', requestContext(info, principal.sessionId), {
        requireReplicas: true,
      });
      // Someone else's session answers exactly like a missing one.
      if (!revoked) throw new VigilError('NOT_FOUND', { what: 'Session' });
      return { status: 200, body: { revoked: 1 } };
    }),

    defineRoute({
      method: 'DELETE',
      path: '/v1/sessions',
      summary: "End all of the caller's sessions (optionally all but this one)",
      tags: ['sessions'],
      auth: revoking,
      schema: { query: RevokeAllQuery, response: { 200: RevokedReply, 400: ErrorBodySchema, ...unauthorized } },
    }).handle(async ({ auth: principal, query, info }) => {
      const revoked = await sessions.revokeAllForUser(principal.userId, {
        exceptSessionId: query.exceptCurrent ? principal.sessionId : undefined,
        reason: 'revoke_all',
        audit: requestContext(info, principal.sessionId),
        requireReplicas: true,
      });
      return { status: 200, body: { revoked } };
    }),
  ];
}

export function sessionView(session: SessionRecord, currentId: string, device: Device | undefined): Static<typeof SessionView> {
  const view: Static<typeof SessionView> = {
    id: session.id,
    current: session.id === currentId,
    kind: session.kind,
    createdAt: new Date(session.createdAt).toISOString(),
    lastSeenAt: new Date(session.lastSeenAt).toISOString(),
    expiresAt: new Date(session.expiresAt).toISOString(),
  };
  if (session.ip) view.ip = session.ip;
  if (session.userAgent) view.userAgent = session.userAgent;
  if (session.deviceId) view.deviceId = session.deviceId;
  if (device) {
    view.device = { id: device.id };
    for (const key of ['platform', 'brand', 'model', 'osVersion'] as const) if (device[key]) view.device[key] = device[key];
  }
  return view;
}
