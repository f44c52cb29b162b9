import { Type } from '@sinclair/typebox';
import { NewPasswordInput, PasswordInput } from './accounts.ts';
import { documentedRules } from './common.ts';
import { CodeChannel } from './codes.ts';

/** Passwords: change (authenticated) and reset (by a code or the ticket it yielded). */

export const PasswordChangeBody = Type.Object(
  { currentPassword: PasswordInput, newPassword: NewPasswordInput },
  { additionalProperties: false },
);

export const PasswordResetBody = documentedRules(
  Type.Object(
    {
      ticket: Type.Optional(
        Type.String({ minLength: 16, maxLength: 128, description: 'From POST /v1/codes/verify with purpose reset' }),
      ),
      channel: Type.Optional(CodeChannel),
      to: Type.Optional(
        Type.String({ minLength: 3, maxLength: 254, description: 'With code: the email/phone the reset code went to' }),
      ),
      code: Type.Optional(Type.String({ pattern: '^[0-9]{6}$' })),
      newPassword: NewPasswordInput,
    },
    { additionalProperties: false, description: 'Either ticket, or to + code' },
  ),
  { anyOf: [{ required: ['ticket'] }, { required: ['to', 'code'] }] },
);

export const PasswordChangedReply = Type.Object({
  status: Type.Union([Type.Literal('changed'), Type.Literal('reset')]),
  revokedSessions: Type.Integer({ description: 'Sessions ended (change keeps the caller’s own)' }),
});
