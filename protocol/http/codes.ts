import { Type } from '@sinclair/typebox';
import { Locale } from './accounts.ts';

/** One-time codes: request one for a destination and purpose, verify it for a single-use ticket. */

export const CodeChannel = Type.Union([Type.Literal('email'), Type.Literal('sms')]);
export const CodePurpose = Type.Union(
  [Type.Literal('signup'), Type.Literal('login'), Type.Literal('reset'), Type.Literal('verify'), Type.Literal('withdraw')],
  { description: 'signup: a free destination; login, reset, verify, withdraw: an account’s own email/phone' },
);
const Destination = Type.String({
  minLength: 3,
  maxLength: 254,
  description: 'Email address (channel email) or phone number (channel sms)',
});

export const CodeRequestBody = Type.Object(
  { channel: CodeChannel, to: Destination, purpose: CodePurpose, locale: Type.Optional(Locale) },
  { additionalProperties: false },
);

export const CodeRequestReply = Type.Object(
  {
    status: Type.Literal('accepted'),
    channel: CodeChannel,
    to: Type.String({ description: 'The normalised destination' }),
    purpose: CodePurpose,
    expiresIn: Type.Integer({ description: 'Seconds the code stays valid' }),
    resendIn: Type.Integer({ description: 'Seconds before another code may be requested' }),
  },
  { description: 'The same answer whether or not an account exists for the destination' },
);

export const CodeVerifyBody = Type.Object(
  {
    channel: CodeChannel,
    to: Destination,
    purpose: CodePurpose,
    code: Type.String({ pattern: '^[0-9]{6}$', description: 'Six digits' }),
  },
  { additionalProperties: false },
);

export const CodeVerifyReply = Type.Object({
  ticket: Type.String({ description: 'Single use; spend it on the next step (sign-up, password reset, login, withdrawal)' }),
  purpose: CodePurpose,
  expiresIn: Type.Integer(),
  verified: Type.Boolean({ description: 'purpose verify: the account’s destination is now confirmed' }),
});
