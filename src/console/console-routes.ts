import { ObjectId } from 'mongodb';
import { VigilError } from '../../protocol/errors.ts';
import { accountViewSchema, ErrorReply } from '../../protocol/http/accounts.ts';
import { ModelView } from '../../protocol/http/biometrics.ts';
import {
  AdminAccountParams,
  AdminAuditQuery,
  AdminAuditReply,
  AdminLookupQuery,
  AdminRevokedReply,
  AdminSessionParams,
} from '../../protocol/http/console.ts';
import { SessionListReply } from '../../protocol/http/sessions.ts';
import type { AccountService } from '../identity/accounts/account-service.ts';
import { publicView, type Account } from '../identity/accounts/account.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { BiometricService } from '../biometrics/biometric-service.ts';
import type { AdminPrincipal } from '../server/admin-auth.ts';
import { defineRoute, type Authenticator, type Route } from '../server/http/route.ts';
import { sessionView } from '../sessions/session-routes.ts';
import type { SessionService } from '../sessions/session-service.ts';

export interface ConsoleRouteDeps {
  accounts: AccountService;
  sessions: SessionService;
  audit: AuditLog;
  biometrics: BiometricService;
  admin: Authenticator<AdminPrincipal>;
}

const E = ErrorReply;

/** The admin API the operator console stands on; every route takes the admin credential. */
export function consoleRoutes(deps: ConsoleRouteDeps): Route[] {
  const { accounts, sessions, audit, biometrics, admin } = deps;
  const AccountSchema = accountViewSchema(accounts.profiles.fields);
  const existing = async (id: string): Promise<Account> => {
    const account = await accounts.findById(id);
    if (!account) throw new VigilError('NOT_FOUND', { what: 'Account' });
    return account;
  };

  return [
    defineRoute({
      method: 'GET',
      path: '/v1/admin/accounts/lookup',
      summary: 'Find one account by id, number, username, email or phone',
      tags: ['admin', 'accounts'],
      auth: admin,
      schema: { query: AdminLookupQuery, response: { 200: AccountSchema, 400: E, 401: E, 403: E, 404: E } },
    }).handle(async ({ query }) => {
      const identifier = query.identifier.trim();
      const account =
        (await accounts.findById(identifier)) ??
        (/^\d{1,15}$/.test(identifier) ? await accounts.findByNumber(Number(identifier)) : null) ??
        (await accounts.findByIdentifier(identifier));
      if (!account) throw new VigilError('NOT_FOUND', { what: 'Account' });
      return { status: 200, body: publicView(account) };
    }),

    defineRoute({
      method: 'GET',
      path: '/v1/admin/accounts/:id/sessions',
      summary: "An account's live sessions, newest first",
      tags: ['admin', 'sessions'],
      auth: admin,
      schema: { params: AdminAccountParams, response: { 200: SessionListReply, 401: E, 403: E, 404: E } },
    }).handle(async ({ params }) => {
      await existing(params.id);
      const list = await sessions.list(params.id);
      return { status: 200, body: { sessions: list.map((s) => sessionView(s, '', undefined)) } };
    }),

    defineRoute({
      method: 'DELETE',
      path: '/v1/admin/accounts/:id/sessions/:sessionId',
      summary: 'End one session of an account: its tokens stop working and its sockets close (4520)',
      tags: ['admin', 'sessions'],
      auth: admin,
      schema: { params: AdminSessionParams, response: { 200: AdminRevokedReply, 401: E, 403: E, 404: E } },
    }).handle(async ({ params, info }) => {
      await existing(params.id);
      const revoked = await sessions.revoke(params.id, params.sessionId, 'admin', {
        ip: info.ip,
        userAgent: info.headers['user-agent'],
      });
      return { status: 200, body: { revoked } };
    }),

    defineRoute({
      method: 'GET',
      path: '/v1/admin/accounts/:id/biometrics',
      summary: "An account's biometric model versions (the latest first)",
      tags: ['admin', 'biometrics'],
      auth: admin,
      schema: { params: AdminAccountParams, response: { 200: ModelView, 401: E, 403: E, 404: E } },
    }).handle(async ({ params }) => {
      await existing(params.id);
      return { status: 200, body: await biometrics.model(params.id) };
    }),

    defineRoute({
      method: 'GET',
      path: '/v1/admin/audit',
      summary: 'Security events of every account, newest first, filtered by account, event or outcome',
      tags: ['admin'],
      auth: admin,
      schema: { query: AdminAuditQuery, response: { 200: AdminAuditReply, 400: E, 401: E, 403: E } },
    }).handle(async ({ query }) => {
      let after: { at: Date; id: ObjectId } | undefined;
      if (query.after) {
        const id = new ObjectId(query.after);
        const cursor = await audit.find(id);
        if (cursor) after = { at: cursor.at, id };
      }
      const records = await audit.list(
        { userId: query.userId, event: query.event, outcome: query.outcome, after },
        query.limit + 1,
      );
      const page = records.slice(0, query.limit);
      const events = page.map((r) => {
        const entry: (typeof AdminAuditReply.static)['events'][number] = {
          at: r.at.toISOString(),
          event: r.event,
          outcome: r.outcome,
        };
        for (const key of ['userId', 'sessionId', 'ip', 'deviceId', 'userAgent'] as const) if (r[key]) entry[key] = r[key];
        if (r.detail) entry.detail = r.detail;
        return entry;
      });
      const last = page[page.length - 1];
      return {
        status: 200,
        body: records.length > query.limit && last?._id ? { events, next: last._id.toHexString() } : { events },
      };
    }),
  ];
}
