import type { Locale } from '../../protocol/http/accounts.ts';
import type { Static } from '@sinclair/typebox';
import type { CodePurpose as CodePurposeSchema } from '../../protocol/http/codes.ts';

/** The purposes a code is sent for, as the wire contract lists them. */
type CodePurpose = Static<typeof CodePurposeSchema>;

export interface RenderedMessage {
  subject: string;
  text: string;
  html?: string;
}

export type TemplateInput =
  | { template: 'code'; purpose: CodePurpose; code: string; ttlSeconds: number }
  | { template: 'verify-link'; url: string; ttlSeconds: number }
  | { template: 'biometric-changed'; change: BiometricChange };

/** What happened to the account's biometric model (who "the owner" is). */
export type BiometricChange = 'enrolled' | 'deleted';

const BIOMETRIC_CHANGE: Record<Locale, Record<BiometricChange, string>> = {
  en: {
    enrolled: 'A new biometric enrolment was made on your Vigil account; a new model will recognise you from now on.',
    deleted: 'The biometric model of your Vigil account was deleted.',
  },
  ko: {
    enrolled: 'Vigil 계정에 새 생체 정보가 등록되었습니다. 이제 새 모델로 본인을 확인합니다.',
    deleted: 'Vigil 계정의 생체 인증 모델이 삭제되었습니다.',
  },
};

const NOT_YOU: Record<Locale, string> = {
  en: 'If this was not you, change your password and log out everywhere now.',
  ko: '본인이 아니라면 지금 비밀번호를 바꾸고 모든 기기에서 로그아웃하세요.',
};

const PURPOSE: Record<Locale, Record<CodePurpose, string>> = {
  en: {
    signup: 'finish signing up',
    login: 'log in',
    reset: 'reset your password',
    verify: 'confirm this address',
    withdraw: 'close your account',
  },
  ko: {
    signup: '회원가입을 완료하려면',
    login: '로그인하려면',
    reset: '비밀번호를 재설정하려면',
    verify: '본인 확인을 위해',
    withdraw: '회원 탈퇴를 진행하려면',
  },
};

/** "10 minutes" / "10분"; whole minutes when it divides, seconds otherwise (a 1-minute link says so). */
function duration(seconds: number, locale: Locale): string {
  if (seconds % 60 === 0) {
    const minutes = seconds / 60;
    return locale === 'ko' ? `${minutes}분` : `${minutes} minute${minutes === 1 ? '' : 's'}`;
  }
  return locale === 'ko' ? `${seconds}초` : `${seconds} second${seconds === 1 ? '' : 's'}`;
}

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/**
 * Mail and SMS texts in Korean and English. SMS bodies stay short (one segment where the
 * alphabet allows); mail carries the same text plus a minimal HTML part.
 */
export function renderMessage(input: TemplateInput, locale: Locale, channel: 'email' | 'sms'): RenderedMessage {
  if (input.template === 'biometric-changed') {
    const what = BIOMETRIC_CHANGE[locale][input.change];
    const text = `${what} ${NOT_YOU[locale]}`;
    if (channel === 'sms') return { subject: '', text: `[Vigil] ${text}` };
    const subject = locale === 'ko' ? '[Vigil] 생체 인증 정보가 변경되었습니다' : 'Your Vigil biometric model changed';
    return { subject, text, html: `<p>${escapeHtml(what)}</p><p>${escapeHtml(NOT_YOU[locale])}</p>` };
  }
  if (input.template === 'code') {
    const ttl = duration(input.ttlSeconds, locale);
    const why = PURPOSE[locale][input.purpose];
    if (channel === 'sms') {
      return {
        subject: '',
        text:
          locale === 'ko'
            ? `[Vigil] 인증번호 [${input.code}] ${why} 입력해 주세요. (${ttl} 이내)`
            : `Vigil: ${input.code} is your code to ${why}. It expires in ${ttl}.`,
      };
    }
    const subject = locale === 'ko' ? `[Vigil] 인증번호 ${input.code}` : `Your Vigil code: ${input.code}`;
    const text =
      locale === 'ko'
        ? `${why} 아래 인증번호를 입력해 주세요.\n\n${input.code}\n\n이 번호는 ${ttl} 동안 유효합니다. 요청하지 않으셨다면 이 메일을 무시하세요.`
        : `Enter this code to ${why}:\n\n${input.code}\n\nIt expires in ${ttl}. If you did not ask for it, ignore this mail.`;
    return {
      subject,
      text,
      html: `<p>${escapeHtml(text.split('\n\n')[0]!)}</p><p style="font-size:24px;letter-spacing:4px"><b>${input.code}</b></p><p>${escapeHtml(text.split('\n\n')[2]!)}</p>`,
    };
  }
  const ttl = duration(input.ttlSeconds, locale);
  if (channel === 'sms') {
    return {
      subject: '',
      text:
        locale === 'ko'
          ? `[Vigil] 인증 링크 (${ttl} 이내): ${input.url}`
          : `Vigil: confirm your address within ${ttl}: ${input.url}`,
    };
  }
  const subject = locale === 'ko' ? '[Vigil] 이메일 주소를 인증해 주세요' : 'Confirm your email address';
  const text =
    locale === 'ko'
      ? `아래 링크를 열어 이메일 인증을 완료해 주세요. 링크는 ${ttl} 동안 한 번만 사용할 수 있습니다.\n\n${input.url}\n\n요청하지 않으셨다면 이 메일을 무시하세요.`
      : `Open this link to confirm your email address. It works once, within ${ttl}.\n\n${input.url}\n\nIf you did not sign up, ignore this mail.`;
  const url = escapeHtml(input.url);
  return {
    subject,
    text,
    html: `<p>${escapeHtml(text.split('\n\n')[0]!)}</p><p><a href="${url}">${url}</a></p><p>${escapeHtml(text.split('\n\n')[2]!)}</p>`,
  };
}
