import type { ErrorCode } from '../../../protocol/errors.ts';
import type { ErrorFormatter } from '../../server/http/route.ts';

/**
 * B answers every failure as `{"data": null, "error": "<Korean>"}` with HTTP 400 — the only
 * failure status its document shows — keeping Retry-After where a limit applies; outages keep
 * their 5xx status. Strings the document shows are used verbatim; the others follow its style.
 */
const MESSAGES: Partial<Record<ErrorCode, string>> = {
  CONFLICT: '이미 존재 하는 값',
  NOT_FOUND: '존재 하지 않는 아이디',
  LOGIN_FAILED: '비밀번호 불일치',
  MFA_REQUIRED: '2단계 인증이 필요한 사용자',
  PASSWORD_INCORRECT: '비밀번호 불일치',
  CODE_INVALID: '올바르지 않은 접근 권한',
  CODE_EXHAUSTED: '올바르지 않은 접근 권한',
  TICKET_INVALID: '올바르지 않은 접근 권한',
  PASSWORD_TOO_SHORT: '사용 할 수 없는 비밀번호',
  PASSWORD_TOO_LONG: '사용 할 수 없는 비밀번호',
  PASSWORD_MATCHES_IDENTIFIER: '사용 할 수 없는 비밀번호',
  ACCOUNT_UNVERIFIED: '인증 되지 않은 사용자',
  ACCOUNT_PENDING: '승인 대기 중인 사용자',
  ACCOUNT_REJECTED: '승인 거절 된 사용자',
  ACCOUNT_STATUS_INVALID: '사용 할 수 없는 사용자',
  RATE_LIMITED: '요청 횟수 초과',
  LOGIN_LOCKED: '요청 횟수 초과',
  CODE_COOLDOWN: '요청 횟수 초과',
  CHANNEL_UNAVAILABLE: '메일 전송 불가',
};

/** `overrides` re-word a code for one endpoint (send auth-key: CONFLICT is "이미 존재 하는 이메일"). */
export function bErrorFormatter(overrides: Partial<Record<ErrorCode, string>> = {}): ErrorFormatter {
  return (err) => {
    const fallback = err.status >= 500 ? '서버 오류' : '잘못 된 요청';
    return {
      status: err.status >= 500 ? err.status : 400,
      body: { data: null, error: overrides[err.code] ?? MESSAGES[err.code] ?? fallback },
    };
  };
}
