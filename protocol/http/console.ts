import { Type } from '@sinclair/typebox';
import { AuditEntry } from './sessions.ts';

/** Admin endpoints behind the operator console (/console): lookup, sessions, audit, live trust. */

export const AdminLookupQuery = Type.Object(
  { identifier: Type.String({ minLength: 1, maxLength: 320, description: 'Account id, number, username, email or phone' }) },
  { additionalProperties: false },
);

export const AdminAccountParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });

export const AdminSessionParams = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 64 }),
  sessionId: Type.String({ minLength: 1, maxLength: 64 }),
});

export const AdminAuditQuery = Type.Object(
  {
    userId: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    event: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'e.g. login.failed' })),
    outcome: Type.Optional(Type.Union([Type.Literal('success'), Type.Literal('failure')])),
    limit: Type.Integer({ minimum: 1, maximum: 200, default: 50 }),
    after: Type.Optional(
      Type.String({ pattern: '^[0-9a-f]{24}$', description: 'Continue after this event (the previous page’s `next`)' }),
    ),
  },
  { additionalProperties: false },
);

export const AdminAuditEntry = Type.Composite([AuditEntry, Type.Object({ userId: Type.Optional(Type.String()) })]);

export const AdminAuditReply = Type.Object({
  events: Type.Array(AdminAuditEntry),
  next: Type.Optional(Type.String({ description: 'Pass as `after` for older events' })),
});

export const AdminRevokedReply = Type.Object({
  revoked: Type.Boolean({ description: 'False when the session had already ended' }),
});
