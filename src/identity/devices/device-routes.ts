import type { Static } from '@sinclair/typebox';
import { VigilError } from '../../../protocol/errors.ts';
import { ErrorBodySchema } from '../../../protocol/http/common.ts';
import { DeviceIdParams, DeviceListReply, DeviceRemovedReply } from '../../../protocol/http/sessions.ts';
import type { AuditLog } from '../../audit/audit-log.ts';
import { requestContext } from '../../server/http/request-context.ts';
import { defineRoute, type Authenticator, type Route } from '../../server/http/route.ts';
import type { IdentitySessions } from '../identity-sessions.ts';
import type { DeviceStore } from './device-store.ts';

/** The caller's devices: list them with their live sessions, forget one (ending its sessions). */
export function deviceRoutes(deps: {
  devices: DeviceStore;
  sessions: IdentitySessions;
  audit: AuditLog;
  auth: Authenticator<{ userId: string; sessionId: string }>;
}): Route[] {
  const { devices, sessions, audit, auth } = deps;
  return [
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
      const meta = { ...requestContext(info, principal.sessionId), deviceId: params.id };
      if (!(await devices.get(principal.userId, params.id))) throw new VigilError('NOT_FOUND', { what: 'Device' });
      // Its sessions before the device: a revocation that fails is answered 503, and the client's
      // retry must still find the device to end the sessions left.
      const onDevice = (await sessions.list(principal.userId)).filter((s) => s.deviceId === params.id);
      const ids = onDevice.map((s) => s.id);
      const revokedSessions = (await sessions.revokeSessions(principal.userId, ids, 'device_removed', meta)).length;
      await devices.remove(principal.userId, params.id);
      await audit.record('device.removed', 'success', { ...meta, userId: principal.userId, detail: { revokedSessions } });
      return { status: 200, body: { removed: true as const, revokedSessions } };
    }),
  ];
}
