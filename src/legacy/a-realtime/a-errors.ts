import { drfErrorFormatter } from '../shared/drf-errors.ts';

/** A answers like the DRF server it was: field errors and `{detail}`, no `code`. */
export const formatAError = drfErrorFormatter({
  withCode: false,
  fields: { 'profile.name': 'name', 'profile.gender': 'gender', 'profile.age': 'age' },
  overrides: {
    TOKEN_REVOKED: { status: 401, detail: '토큰이 유효하지 않습니다.' },
    TOKEN_MALFORMED: { status: 401, detail: '토큰이 유효하지 않습니다.' },
    TOKEN_MISSING: { status: 401, detail: '자격 인증데이터(authentication credentials)가 제공되지 않았습니다.' },
    // make_model / check_user: an unusable file is a DRF field error on `data`; the English
    // reason (row, column) follows the Korean sentence.
    SAMPLES_INVALID: { status: 400, field: 'data', detail: '올바른 데이터 파일이 아닙니다: {reason}' },
    SAMPLES_EMPTY: { status: 400, field: 'data', detail: '데이터 파일이 비어 있습니다.' },
    SAMPLES_TOO_FEW: {
      status: 400,
      field: 'data',
      detail: '데이터가 너무 짧습니다. 최소 {required}개의 샘플이 필요합니다(받은 수: {got}).',
    },
    SAMPLES_TOO_MANY: { status: 400, field: 'data', detail: '데이터가 너무 큽니다({got}, 최대 {limit}).' },
    SAMPLES_SPEC_MISMATCH: { status: 400, field: 'data', detail: '데이터가 저장된 모델과 맞지 않습니다: {reason}' },
    ENROLLMENT_TOO_SMALL: {
      status: 400,
      field: 'data',
      detail: '데이터가 너무 적습니다. 최소 {required}개의 구간이 필요합니다(받은 수: {got}).',
    },
    BIOMETRIC_PROOF_STALE: {
      status: 403,
      detail: '모델을 바꾸려면 {seconds}초 이내에 다시 로그인해야 합니다. 다시 로그인한 뒤 새 토큰으로 시도하세요.',
    },
    BIOMETRIC_STEPUP_OWED: { status: 403, detail: '본인 재확인(step-up)이 끝나지 않아 모델을 바꿀 수 없습니다.' },
    BIOMETRIC_REAUTH_REQUIRED: {
      status: 403,
      detail: '저장된 모델을 바꾸려면 현재 비밀번호를 password 필드로 함께 보내야 합니다.',
    },
    PASSWORD_INCORRECT: { status: 400, field: 'password', detail: '비밀번호가 올바르지 않습니다.' },
    ENROLLMENT_TOO_UNIFORM: {
      status: 400,
      field: 'data',
      detail: '데이터가 거의 변하지 않습니다. 활동을 하면서 최소 {required}개의 구간을 기록하세요.',
    },
    BIOMETRIC_MODEL_MISSING: { status: 404, detail: '저장된 모델이 없습니다. 먼저 make_model로 데이터를 저장하세요.' },
  },
});
