import { Type } from '@sinclair/typebox';

/** Development outbox (VIGIL_DEV_OUTBOX=1 only): what would have been mailed or texted. */

export const OutboxQuery = Type.Object({
  to: Type.String({ minLength: 3, maxLength: 254, description: 'Email or phone (any format)' }),
});

export const OutboxMessageSchema = Type.Object({
  channel: Type.Union([Type.Literal('email'), Type.Literal('sms')]),
  to: Type.String(),
  subject: Type.Optional(Type.String()),
  text: Type.String(),
  html: Type.Optional(Type.String()),
  template: Type.String(),
  at: Type.String({ format: 'date-time' }),
  jobId: Type.Optional(Type.String()),
});

export const OutboxReply = Type.Array(OutboxMessageSchema, { description: 'Oldest first' });
