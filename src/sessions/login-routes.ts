import type { Static } from '@sinclair/typebox';
import { VigilError } from '../../protocol/errors.ts';
import { accountViewSchema, type ProfileFieldSpec } from '../../protocol/http/accounts.ts';
import { ErrorBodySchema } from '../../protocol/http/common.ts';
import {
  AuditQuery,
  AuditReply,
  DeviceIdParams,
  DeviceListReply,
  DeviceRemovedReply,
  LoginBody,
  MfaBody,
  MfaChallengeReply,
  TokenPairSchema,
} from '../../protocol/http/sessions.ts';
import { Type } from '@sinclair/typebox';
import { publicView } from '../accounts/account-service.ts';
import type { DeviceStore } from '../accounts/device-store.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import { defineRoute, type Authenticator, type Route } from '../server/http/route.ts';
import type { AuthenticationResponseJSON } from '@simplewebauthn/server';
import { loginRequestOf, type LoginRequest, type LoginService, type SecondFactorAnswer } from './login-service.ts';
import { MfaPasskeyOptionsBody, PasskeyLoginBody, PasskeyOptionsReply } from '../../protocol/http/passkeys.ts';
import type { Principal } from './principal.ts';
import { auditContext } from './session-routes.ts';
import type { SessionService } from './session-service.ts';

type AuditEntry = Static<typeof AuditReply>['events'][number];

/** POST /v1/sessions (login), the caller's devices and the caller's audit trail. */
export function loginRoutes(deps: {
  login: LoginService;
  sessions: SessionService;
  devices: DeviceStore;
  audit: AuditLog;
  auth: Authenticator<Principal>;
  profileFields: readonly ProfileFieldSpec[];
}): Route[] {
  const { login, sessions, devices, audit, auth } = deps;
  const LoginReply = Type.Composite([
    TokenPairSchema,
    Type.Object({
      sessionId: Type.String(),
      user: accountViewSchema(deps.profileFields),
      mfaEnrolmentRequired: Type.Optional(
        Type.Literal(true, {
          description:
            'VIGIL_MFA_REQUIRE=everyone and the account has no second factor: this session can only enrol one (/v1/mfa, /v1/passkeys); log in again with it',
        }),
      ),
    }),
  ]);
  const failures = {
    400: ErrorBodySchema,
    401: ErrorBodySchema,
    403: ErrorBodySchema,
    409: ErrorBodySchema,
    429: ErrorBodySchema,
  };

  return [
    defineRoute({
      method: 'POST',
      path: '/v1/sessions',
      summary:
        'Log in with identifier + password, email/phone + one-time code, or a login ticket; an account with an authenticator app gets 202 and an MFA ticket',
      tags: ['sessions'],
      schema: { body: LoginBody, response: { 201: LoginReply, 202: MfaChallengeReply, ...failures } },
    }).handle(async ({ body, info }) => {
      const request = loginRequestOf(body);
      const result = await login.login(request, auditContext(info));
      if ('mfa' in result) return { status: 202, body: result };
      const { account, session, tokens } = result;
      const restricted = result.mfaEnrolmentRequired ? { mfaEnrolmentRequired: true as const } : {};
      return {
        status: 201,
        body: { ...tokens, sessionId: session.id, user: publicView(account), ...restricted } as Static<typeof LoginReply>,
      };
    }),

    defineRoute({
      method: 'POST',
      path: '/v1/sessions/mfa',
      summary: 'The second step of a login: the MFA ticket with an authenticator code, a recovery code or a passkey assertion',
      tags: ['sessions'],
      schema: { body: MfaBody, response: { 201: LoginReply, ...failures } },
    }).handle(async ({ body, info }) => {
      const given = [body.code, body.recoveryCode, body.passkey].filter((v) => v !== undefined).length;
      if (given !== 1) {
        throw new VigilError(
          'VALIDATION_FAILED',
          { summary: 'code: give exactly one of code, recoveryCode or passkey' },
          { details: [{ field: 'code', message: 'give exactly one of code, recoveryCode or passkey' }] },
        );
      }
      const answer: SecondFactorAnswer =
        body.code !== undefined
          ? { ticket: body.ticket, code: body.code }
          : body.passkey !== undefined
            ? { ticket: body.ticket, passkey: body.passkey as AuthenticationResponseJSON }
            : { ticket: body.ticket, recoveryCode: body.recoveryCode! };
      const { account, session, tokens } = await login.completeMfa(answer, auditContext(info));
      return { status: 201, body: { ...tokens, sessionId: session.id, user: publicView(account) } as Static<typeof LoginReply> };
    }),

    defineRoute({
      method: 'POST',
      path: '/v1/sessions/passkey/options',
      summary: 'Start a username-less passkey login: options for navigator.credentials.get() (a single-use challenge)',
      tags: ['sessions', 'passkeys'],
      schema: { response: { 200: PasskeyOptionsReply, 429: ErrorBodySchema } },
    }).handle(async ({ info }) => ({ status: 200, body: await login.passkeyLoginOptions(auditContext(info)) })),

    defineRoute({
      method: 'POST',
      path: '/v1/sessions/passkey',
      summary: 'Log in with a passkey (discoverable credential) over the options of POST /v1/sessions/passkey/options',
      tags: ['sessions', 'passkeys'],
      schema: { body: PasskeyLoginBody, response: { 201: LoginReply, ...failures } },
    }).handle(async ({ body, info }) => {
      const request: LoginRequest = { method: 'passkey', response: body.response as AuthenticationResponseJSON };
      if (body.device) request.device = body.device;
      const result = await login.login(request, auditContext(info));
      if ('mfa' in result) throw new VigilError('INTERNAL'); // a passkey login never asks for a second step
      const { account, session, tokens } = result;
      return { status: 201, body: { ...tokens, sessionId: session.id, user: publicView(account) } as Static<typeof LoginReply> };
    }),

    defineRoute({
      method: 'POST',
      path: '/v1/sessions/mfa/passkey-options',
      summary: "Options for answering an MFA ticket with one of the account's passkeys (the challenge is bound to the ticket)",
      tags: ['sessions', 'passkeys'],
      schema: {
        body: MfaPasskeyOptionsBody,
        response: { 200: PasskeyOptionsReply, 400: ErrorBodySchema, 401: ErrorBodySchema, 429: ErrorBodySchema },
      },
    }).handle(async ({ body, info }) => ({ status: 200, body: await login.passkeyMfaOptions(body.ticket, auditContext(info)) })),

    defineRoute({
      method: 'GET',
      path: '/v1/devices',
      summary: "The caller's devices, most recently seen first",
      tags: ['devices'],
      auth,
      schema: { response: { 200: DeviceListReply, 401: ErrorBodySchema } },
    }).handle(async ({ auth: principal }) => {
      const [list, live] = await Promise.all([devices.list(principal.userId), sessions.list(principal.userId)]);
      const counts = new Map<string, number>();
      for (const s of live) if (s.deviceId) counts.set(s.deviceId, (counts.get(s.deviceId) ?? 0) + 1);
      return {
        status: 200,
        body: {
          devices: list.map((d) => {
            const view: Static<typeof DeviceListReply>['devices'][number] = {
              id: d.id,
              hasPushToken: d.pushToken !== undefined,
              firstSeenAt: d.firstSeenAt.toISOString(),
              lastSeenAt: d.lastSeenAt.toISOString(),
              activeSessions: counts.get(d.id) ?? 0,
            };
            for (const key of ['platform', 'brand', 'model', 'osVersion'] as const) if (d[key]) view[key] = d[key];
            return view;
          }),
        },
      };
    }),

    defineRoute({
      method: 'DELETE',
      path: '/v1/devices/:id',
      summary: 'Forget a device and end the sessions logged in from it',
      tags: ['devices'],
      auth,
      schema: {
        params: DeviceIdParams,
        response: { 200: DeviceRemovedReply, 400: ErrorBodySchema, 401: ErrorBodySchema, 404: ErrorBodySchema },
      },
    }).handle(async ({ auth: principal, params, info }) => {
      const meta = { ...auditContext(info, principal.sessionId), deviceId: params.id };
      if (!(await devices.remove(principal.userId, params.id))) throw new VigilError('NOT_FOUND', { what: 'Device' });
      const onDevice = (await sessions.list(principal.userId)).filter((s) => s.deviceId === params.id);
      let revokedSessions = 0;
      for (const s of onDevice) if (await sessions.revoke(principal.userId, s.id, 'device_removed', meta)) revokedSessions++;
      await audit.record('device.removed', 'success', { ...meta, userId: principal.userId, detail: { revokedSessions } });
      return { status: 200, body: { removed: true as const, revokedSessions } };
    }),

    defineRoute({
      method: 'GET',
      path: '/v1/accounts/me/audit',
      summary: "The caller's own security events, newest first",
      tags: ['accounts'],
      auth,
      schema: { query: AuditQuery, response: { 200: AuditReply, 400: ErrorBodySchema, 401: ErrorBodySchema } },
    }).handle(async ({ auth: principal, query }) => {
      const records = await audit.listForUser(principal.userId, {
        limit: query.limit + 1,
        before: query.before ? new Date(query.before) : undefined,
      });
      const page = records.slice(0, query.limit);
      const events = page.map((r) => {
        const entry: AuditEntry = { at: r.at.toISOString(), event: r.event, outcome: r.outcome };
        for (const key of ['sessionId', 'ip', 'deviceId', 'userAgent'] as const) if (r[key]) entry[key] = r[key];
        if (r.detail) entry.detail = r.detail;
        return entry;
      });
      const last = page[page.length - 1];
      return { status: 200, body: records.length > query.limit && last ? { events, next: last.at.toISOString() } : { events } };
    }),
  ];
}
