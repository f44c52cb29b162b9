import { extendCatalogue, type ErrorCode } from '../../../protocol/errors.ts';
import type { ErrorFormatter } from '../../server/http/route.ts';

/** Codes only dialect D answers. */
export const D_ERRORS = extendCatalogue({
  D_PASSWORDS_DIFFER: { status: 400, close: 4500, message: '{field} must repeat the password exactly' },
});
declare module '../../../protocol/errors.ts' {
  interface CatalogueExtensions {
    D_PASSWORDS_DIFFER: true;
  }
}

/**
 * D answers `{"message": "<Korean>"}` with the catalogue's status. The link's failure message is
 * the document's; the others are worded in its style.
 */
const MESSAGES: Partial<Record<ErrorCode, string>> = {
  LINK_INVALID: '유효하지 않은 인증입니다. 다시 진행하세요',
  CONFLICT: '이미 가입된 이메일입니다.',
  D_PASSWORDS_DIFFER: '비밀번호가 일치하지 않습니다.',
  PASSWORD_TOO_SHORT: '사용할 수 없는 비밀번호입니다.',
  PASSWORD_TOO_LONG: '사용할 수 없는 비밀번호입니다.',
  PASSWORD_MATCHES_IDENTIFIER: '사용할 수 없는 비밀번호입니다.',
  LOGIN_FAILED: '이메일 또는 비밀번호가 올바르지 않습니다.',
  MFA_REQUIRED: '2단계 인증이 설정된 계정입니다.',
  ACCOUNT_UNVERIFIED: '이메일 인증이 필요합니다.',
  ACCOUNT_PENDING: '승인 대기중인 계정입니다.',
  ACCOUNT_REJECTED: '사용할 수 없는 계정입니다.',
  ACCOUNT_STATUS_INVALID: '사용할 수 없는 계정입니다.',
  TOKEN_EXPIRED: '만료된 토큰입니다.',
  RATE_LIMITED: '요청이 너무 많습니다. 잠시 후 다시 시도하세요.',
  LOGIN_LOCKED: '요청이 너무 많습니다. 잠시 후 다시 시도하세요.',
  CODE_COOLDOWN: '요청이 너무 많습니다. 잠시 후 다시 시도하세요.',
  CHANNEL_UNAVAILABLE: '메일을 보낼 수 없습니다.',
};

export const formatDError: ErrorFormatter = (err) => {
  let message = MESSAGES[err.code];
  if (!message) {
    if (/^TOKEN_|^REFRESH_TOKEN_/.test(err.code)) message = '유효하지 않은 토큰입니다.';
    else if (err.status >= 500) message = '일시적인 오류입니다. 잠시 후 다시 시도하세요.';
    else message = '잘못된 요청입니다.';
  }
  return { status: err.status, body: { message } };
};
