import type { ErrorCode, VigilError } from '../../../protocol/errors.ts';
import type { ErrorFormatter } from '../../server/http/route.ts';

/**
 * Errors the way a Django REST framework server answers them, for dialects A and C: field
 * problems as `{"field": ["message"]}` (400), everything else as `{"detail": "..."}` (C adds the
 * `code` its document shows). Messages are Korean, as DRF's ko locale words them where it has
 * one. Rate limits, outages and the like keep their catalogue status.
 */

/** A dialect-specific answer for one catalogue code (C: pending → 406 with code "1006"). */
export interface DrfAnswer {
  status?: number;
  detail?: string;
  code?: string;
  /** Answer as a field error on this field instead of `detail`. */
  field?: string;
}

export interface DrfOptions {
  /** Include `code` in `{detail, code}` bodies (C documents it; A's document never shows one). */
  withCode: boolean;
  /** Core field names (details' `field`) → the dialect's field names: phone → mobile, profile.birthDate → birth. */
  fields?: Readonly<Record<string, string>>;
  overrides?: Partial<Record<ErrorCode, DrfAnswer>>;
}

const REQUIRED = '이 필드는 필수 항목입니다.';
const INVALID = '올바른 값을 입력하세요.';
/** Django's ko wording of its unique-field errors (C's document shows the username one verbatim). */
const TAKEN: Record<string, string> = {
  username: '해당 사용자 이름은 이미 존재합니다.',
  phone: '해당 휴대폰 번호는 이미 존재합니다.',
  email: '해당 이메일은 이미 존재합니다.',
};

const DEFAULTS: Partial<Record<ErrorCode, DrfAnswer>> = {
  JSON_MALFORMED: { detail: '잘못된 형식의 요청입니다.', code: 'parse_error' },
  BODY_INVALID: { detail: '잘못된 형식의 요청입니다.', code: 'parse_error' },
  UNSUPPORTED_MEDIA_TYPE: { detail: '지원하지 않는 미디어 타입입니다.', code: 'unsupported_media_type' },
  BODY_TOO_LARGE: { detail: '요청이 너무 큽니다.', code: 'request_too_large' },
  LOGIN_FAILED: { status: 400, field: 'non_field_errors', detail: '제공된 인증 데이터(credentials)로는 로그인할 수 없습니다.' },
  MFA_REQUIRED: { status: 400, field: 'non_field_errors', detail: '2단계 인증이 설정된 계정입니다.' },
  PASSWORD_TOO_SHORT: { field: 'password', detail: '비밀번호가 너무 짧습니다. 최소 {min} 문자를 포함해야 합니다.' },
  PASSWORD_TOO_LONG: { field: 'password', detail: '비밀번호가 너무 깁니다.' },
  PASSWORD_MATCHES_IDENTIFIER: { field: 'password', detail: '비밀번호가 사용자 정보와 너무 유사합니다.' },
  TOKEN_MISSING: { detail: '자격 인증데이터(authentication credentials)가 제공되지 않았습니다.', code: 'not_authenticated' },
  TOKEN_EXPIRED: { detail: '토큰이 만료되었습니다.', code: 'token_not_valid' },
  ACCOUNT_UNVERIFIED: { detail: '인증되지 않은 회원입니다.', code: 'permission_denied' },
  ACCOUNT_PENDING: { detail: '승인 대기중인 회원입니다.', code: 'permission_denied' },
  ACCOUNT_REJECTED: { detail: '승인 거절된 회원입니다.', code: 'permission_denied' },
  ACCOUNT_STATUS_INVALID: { detail: '사용할 수 없는 계정입니다.', code: 'permission_denied' },
  NOT_FOUND: { detail: '찾을 수 없습니다.', code: 'not_found' },
  CODE_INVALID: { detail: '인증번호가 올바르지 않거나 만료되었습니다.', code: 'invalid' },
  CODE_EXHAUSTED: { detail: '인증번호를 너무 많이 틀렸습니다. 새 인증번호를 요청하세요.', code: 'invalid' },
  TICKET_INVALID: { detail: '인증이 만료되었거나 올바르지 않습니다.', code: 'invalid' },
  CHANNEL_UNAVAILABLE: { detail: '문자/메일을 보낼 수 없습니다.', code: 'service_unavailable' },
};

const THROTTLED = new Set<ErrorCode>(['RATE_LIMITED', 'LOGIN_LOCKED', 'CODE_COOLDOWN']);
const TOKEN_CODES = /^TOKEN_|^REFRESH_TOKEN_/;

function fill(template: string, params: Record<string, string | number>): string {
  return template.replace(/\{(\w+)\}/g, (whole, key: string) => (key in params ? String(params[key]) : whole));
}

export function drfErrorFormatter(options: DrfOptions): ErrorFormatter {
  const rename = (field: string) => {
    const mapped = options.fields?.[field] ?? field;
    // "interests.0" and "verification_files.1.original" are reported on the top-level field, as DRF
    // nests them; that is where a form shows the message.
    return mapped.split('.', 1)[0] || 'non_field_errors';
  };
  const detailBody = (detail: string, code: string) => (options.withCode ? { detail, code } : { detail });

  return (err: VigilError) => {
    if (err.code === 'VALIDATION_FAILED') {
      const body: Record<string, string[]> = {};
      for (const d of err.details ?? [{ field: 'non_field_errors', message: err.message }]) {
        const message = /required/i.test(d.message) ? REQUIRED : d.message.startsWith('Expected') ? INVALID : d.message;
        (body[rename(d.field)] ??= []).push(message);
      }
      return { status: 400, body };
    }
    if (err.code === 'CONFLICT') {
      const field = String(err.params.field ?? 'non_field_errors');
      const fields = (err.details ?? [{ field, message: '' }]).map((d) => d.field);
      const body: Record<string, string[]> = {};
      for (const f of fields) body[rename(f)] = [TAKEN[f] ?? `해당 ${rename(f)} 값은 이미 존재합니다.`];
      return { status: 400, body };
    }
    const answer = options.overrides?.[err.code] ?? DEFAULTS[err.code];
    if (answer?.field) {
      return { status: answer.status ?? 400, body: { [answer.field]: [fill(answer.detail ?? err.message, err.params)] } };
    }
    if (answer) {
      return {
        status: answer.status ?? err.status,
        body: detailBody(fill(answer.detail ?? err.message, err.params), answer.code ?? 'error'),
      };
    }
    if (THROTTLED.has(err.code)) {
      return {
        status: 429,
        body: detailBody(`요청이 너무 많습니다. ${err.params.retryAfter ?? 60}초 후에 다시 시도하세요.`, 'throttled'),
      };
    }
    if (TOKEN_CODES.test(err.code)) return { status: 401, body: detailBody('토큰이 유효하지 않습니다.', 'token_not_valid') };
    if (err.status >= 500) {
      const unavailable = err.status === 503;
      return {
        status: err.status,
        body: detailBody(
          unavailable ? '일시적으로 사용할 수 없습니다. 잠시 후 다시 시도하세요.' : '서버 오류가 발생했습니다.',
          unavailable ? 'service_unavailable' : 'error',
        ),
      };
    }
    return { status: err.status, body: detailBody(err.message, 'error') };
  };
}
