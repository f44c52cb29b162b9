import { drfErrorFormatter } from '../shared/drf-errors.ts';

/** A answers like the DRF server it was: field errors and `{detail}`, no `code`. */
export const formatAError = drfErrorFormatter({
  withCode: false,
  fields: { 'profile.name': 'name', 'profile.gender': 'gender', 'profile.age': 'age' },
  overrides: {
    TOKEN_REVOKED: { status: 401, detail: '토큰이 유효하지 않습니다.' },
    TOKEN_MALFORMED: { status: 401, detail: '토큰이 유효하지 않습니다.' },
    TOKEN_MISSING: { status: 401, detail: '자격 인증데이터(authentication credentials)가 제공되지 않았습니다.' },
  },
});
