import type { Static } from '@sinclair/typebox';
import { ErrorBodySchema } from '../../../protocol/http/common.ts';
import { AuditQuery, AuditReply } from '../../../protocol/http/sessions.ts';
import { defineRoute, type Authenticator, type Route } from '../../server/http/route.ts';
import type { AuditLog } from '../../audit/audit-log.ts';

type AuditEntry = Static<typeof AuditReply>['events'][number];

/** GET /v1/accounts/me/audit: the caller's own security events, newest first, paged by time. */
export function auditRoutes(deps: { audit: AuditLog; auth: Authenticator<{ userId: string }> }): Route[] {
  const { audit, auth } = deps;
  return [
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
