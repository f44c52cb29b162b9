import { extendCatalogue } from '../../../protocol/errors.ts';
import { drfErrorFormatter } from '../shared/drf-errors.ts';

/** Codes only dialect C answers. */
export const C_ERRORS = extendCatalogue({
  C_UPLOAD_URL_INVALID: { status: 403, close: 4500, message: 'The upload URL is invalid, expired or for another file' },
});
declare module '../../../protocol/errors.ts' {
  interface CatalogueExtensions {
    C_UPLOAD_URL_INVALID: true;
  }
}

const TOKEN_NOT_VALID = { status: 401, detail: '토큰이 유효하지 않거나 만료되었습니다.', code: 'token_not_valid' };

/**
 * C answers like its DRF + simplejwt server: field errors, or `{detail, code}` with the codes its
 * document shows for login step 1 (404 not_found, 406 "1006" pending, 403 "1005" rejected).
 */
export const formatCError = drfErrorFormatter({
  withCode: true,
  fields: {
    phone: 'mobile',
    to: 'mobile',
    'profile.name': 'name',
    'profile.gender': 'gender',
    'profile.birthDate': 'birth',
    code: 'token',
  },
  overrides: {
    NOT_FOUND: { status: 404, detail: '가입하지 않은 회원입니다', code: 'not_found' },
    ACCOUNT_PENDING: { status: 406, detail: '승인 대기중인 회원입니다.', code: '1006' },
    ACCOUNT_UNVERIFIED: { status: 406, detail: '승인 대기중인 회원입니다.', code: '1006' },
    ACCOUNT_REJECTED: { status: 403, detail: '승인 거절된 회원입니다.', code: '1005' },
    CODE_INVALID: { status: 400, field: 'token', detail: '유효하지 않은 인증번호입니다.' },
    CODE_EXHAUSTED: { status: 400, field: 'token', detail: '인증번호를 너무 많이 틀렸습니다. 새 인증번호를 요청하세요.' },
    REFRESH_TOKEN_INVALID: TOKEN_NOT_VALID,
    REFRESH_TOKEN_REUSED: TOKEN_NOT_VALID,
    TOKEN_REVOKED: TOKEN_NOT_VALID,
    TOKEN_MISSING: { status: 401, detail: 'refresh 토큰이 필요합니다.', code: 'token_not_valid' },
  },
});
