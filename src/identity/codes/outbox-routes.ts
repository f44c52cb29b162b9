import { ErrorReply } from '../../../protocol/http/accounts.ts';
import { OutboxQuery, OutboxReply } from '../../../protocol/http/dev-outbox.ts';
import { normalizeEmail } from '../accounts/identifiers.ts';
import { normalizePhone } from '../accounts/phone-number.ts';
import { fieldError } from '../../server/http/field-errors.ts';
import { defineRoute, type Route } from '../../server/http/route.ts';
import type { DevOutbox } from '../../notify/dev-outbox.ts';

/** GET /v1/dev/outbox?to= — mounted only when VIGIL_DEV_OUTBOX=1 (never in production). */
export function outboxRoutes(deps: { outbox: DevOutbox; phoneRegion: string }): Route[] {
  return [
    defineRoute({
      method: 'GET',
      path: '/v1/dev/outbox',
      summary: 'Development only: messages sent to an email or phone, oldest first',
      tags: ['dev'],
      hidden: true,
      schema: { query: OutboxQuery, response: { 200: OutboxReply, 400: ErrorReply } },
    }).handle(async ({ query }) => {
      const to = query.to.includes('@') ? normalizeEmail(query.to) : normalizePhone(query.to, deps.phoneRegion);
      if (!to) throw fieldError('query.to', 'must be an email address or a phone number');
      return { status: 200, body: await deps.outbox.list(to) };
    }),
  ];
}
