import { Type } from '@sinclair/typebox';
import { VigilError } from '../../../protocol/errors.ts';
import { ErrorBodySchema } from '../../../protocol/http/common.ts';
import { CCatalogueEntry, CCatalogueEntryBody, CCatalogueParams, CCatalogueReply } from '../../../protocol/legacy/c-profile.ts';
import type { AuditLog } from '../../audit/audit-log.ts';
import type { AdminPrincipal } from '../../server/admin-auth.ts';
import { defineRoute, type Authenticator, type Route } from '../../server/http/route.ts';
import type { Catalogue } from './catalogue.ts';

const TAGS = ['admin', 'legacy C'];
const E = ErrorBodySchema;

/** The operator's catalogue of C's interests and professions (core admin API and error shape). */
export function cAdminRoutes(deps: { catalogue: Catalogue; admin: Authenticator<AdminPrincipal>; audit: AuditLog }): Route[] {
  const { catalogue, admin } = deps;
  return [
    defineRoute({
      method: 'GET',
      path: '/v1/admin/legacy/c/catalogue',
      summary: "Dialect C's interests and professions",
      tags: TAGS,
      auth: admin,
      schema: { response: { 200: CCatalogueReply, 401: E, 403: E } },
    }).handle(async () => ({
      status: 200,
      body: { interests: await catalogue.list('interests'), professions: await catalogue.list('professions') },
    })),

    defineRoute({
      method: 'PUT',
      path: '/v1/admin/legacy/c/catalogue/:kind/:uuid',
      summary: 'Add or change an interest or profession (uuid: the 22-character id clients register with)',
      tags: TAGS,
      auth: admin,
      schema: { params: CCatalogueParams, body: CCatalogueEntryBody, response: { 200: CCatalogueEntry, 400: E, 401: E, 403: E } },
    }).handle(async ({ params, body, info }) => {
      const entry = await catalogue.put(params.kind, {
        uuid: params.uuid,
        name: body.name,
        emoji: body.emoji,
        image: body.image ?? null,
      });
      await deps.audit.record('legacy.catalogue_changed', 'success', {
        ip: info.ip,
        detail: { kind: params.kind, uuid: params.uuid, action: 'put' },
      });
      return { status: 200, body: entry };
    }),

    defineRoute({
      method: 'DELETE',
      path: '/v1/admin/legacy/c/catalogue/:kind/:uuid',
      summary: 'Remove an interest or profession (accounts that chose it no longer show it)',
      tags: TAGS,
      auth: admin,
      schema: {
        params: CCatalogueParams,
        response: { 200: Type.Object({ removed: Type.Literal(true) }), 400: E, 401: E, 403: E, 404: E },
      },
    }).handle(async ({ params, info }) => {
      if (!(await catalogue.remove(params.kind, params.uuid))) throw new VigilError('NOT_FOUND', { what: 'Catalogue entry' });
      await deps.audit.record('legacy.catalogue_changed', 'success', {
        ip: info.ip,
        detail: { kind: params.kind, uuid: params.uuid, action: 'delete' },
      });
      return { status: 200, body: { removed: true as const } };
    }),
  ];
}
