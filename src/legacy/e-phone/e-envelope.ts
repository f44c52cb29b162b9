import { extendCatalogue, type ErrorCode } from '../../../protocol/errors.ts';
import type { ErrorFormatter } from '../../server/http/route.ts';

/** Codes only dialect E answers. */
export const E_ERRORS = extendCatalogue({
  E_SMS_PROOF_REQUIRED: {
    status: 403,
    close: 4500,
    message: "Confirm the account's phone with sms_auth_req/sms_auth_res first (valid {seconds} s)",
  },
});
declare module '../../../protocol/errors.ts' {
  interface CatalogueExtensions {
    E_SMS_PROOF_REQUIRED: true;
  }
}

/** `{success, message, code, data: {item, item_length, total}}` around a result list. */
export function eOk<T>(items: T[]) {
  return { success: true, message: 'success', code: 1000, data: { item: items, item_length: items.length, total: items.length } };
}

/**
 * E's failure codes (its document shows only 1000 = success). Failures keep the envelope with an
 * empty `item` ("실패시 빈 배열"); client errors answer HTTP 200 like the successes, so a client that
 * reads `success` sees them; rate limits (429) and outages (5xx) keep their status.
 */
export const E_CODES = {
  invalidRequest: 2000,
  alreadyRegistered: 2001,
  loginFailed: 2002,
  accountNotActive: 2003,
  passwordRejected: 2004,
  authNumberInvalid: 2005,
  smsAuthRequired: 2006,
  notFound: 2007,
  tooManyRequests: 4290,
  serverError: 5000,
  unavailable: 5030,
} as const;

const ANSWERS: Partial<Record<ErrorCode, [code: number, message: string]>> = {
  CONFLICT: [E_CODES.alreadyRegistered, 'already registered'],
  LOGIN_FAILED: [E_CODES.loginFailed, 'number or password mismatch'],
  MFA_REQUIRED: [E_CODES.loginFailed, 'second factor required'],
  ACCOUNT_UNVERIFIED: [E_CODES.accountNotActive, 'phone not verified'],
  ACCOUNT_PENDING: [E_CODES.accountNotActive, 'waiting for approval'],
  ACCOUNT_REJECTED: [E_CODES.accountNotActive, 'account rejected'],
  ACCOUNT_STATUS_INVALID: [E_CODES.accountNotActive, 'account not active'],
  PASSWORD_TOO_SHORT: [E_CODES.passwordRejected, 'password too short'],
  PASSWORD_TOO_LONG: [E_CODES.passwordRejected, 'password too long'],
  PASSWORD_MATCHES_IDENTIFIER: [E_CODES.passwordRejected, 'password same as phone number'],
  CODE_INVALID: [E_CODES.authNumberInvalid, 'auth number mismatch'],
  CODE_EXHAUSTED: [E_CODES.authNumberInvalid, 'auth number expired'],
  TICKET_INVALID: [E_CODES.authNumberInvalid, 'sms authentication expired'],
  E_SMS_PROOF_REQUIRED: [E_CODES.smsAuthRequired, 'sms authentication required'],
  NOT_FOUND: [E_CODES.notFound, 'not found'],
  RATE_LIMITED: [E_CODES.tooManyRequests, 'too many requests'],
  LOGIN_LOCKED: [E_CODES.tooManyRequests, 'too many requests'],
  CODE_COOLDOWN: [E_CODES.tooManyRequests, 'too many requests'],
  CHANNEL_UNAVAILABLE: [E_CODES.unavailable, 'sms unavailable'],
};

export const formatEError: ErrorFormatter = (err) => {
  const [code, message] =
    ANSWERS[err.code] ??
    (err.status >= 500
      ? [err.status === 503 ? E_CODES.unavailable : E_CODES.serverError, 'server error']
      : [E_CODES.invalidRequest, 'invalid request']);
  const status = err.status === 429 || err.status >= 500 ? err.status : 200;
  return { status, body: { success: false, message, code, data: { item: [], item_length: 0, total: 0 } } };
};
