import { describe, expect, it } from 'vitest';
import { testConfig } from '../../test/support/config.ts';
import { smtpOptionsFrom } from './smtp-mailer.ts';
import { renderMessage } from './templates.ts';
import { deliverableChannels } from './transports.ts';
import { twilioOptionsFrom } from './twilio-sms.ts';

describe('transport configuration', () => {
  it('is off unless configured, and the dev outbox makes both channels deliverable', () => {
    expect(smtpOptionsFrom(testConfig())).toBeUndefined();
    expect(twilioOptionsFrom(testConfig())).toBeUndefined();
    expect(deliverableChannels(testConfig())).toEqual({ email: false, sms: false });
    expect(deliverableChannels(testConfig({ VIGIL_DEV_OUTBOX: '1' }))).toEqual({ email: true, sms: true });
    expect(deliverableChannels(testConfig({ VIGIL_SMTP_HOST: 'mail.example.com' }))).toEqual({ email: true, sms: false });
  });

  it('reads SMTP settings, and refuses a user without a password', () => {
    expect(
      smtpOptionsFrom(testConfig({ VIGIL_SMTP_HOST: 'mail.example.com', VIGIL_SMTP_PORT: '465', VIGIL_SMTP_SECURE: '1' })),
    ).toMatchObject({
      host: 'mail.example.com',
      port: 465,
      secure: true,
      rejectUnauthorized: true,
    });
    expect(() => smtpOptionsFrom(testConfig({ VIGIL_SMTP_HOST: 'mail.example.com', VIGIL_SMTP_USER: 'vigil' }))).toThrow(
      'VIGIL_SMTP_PASSWORD: required when VIGIL_SMTP_USER is set',
    );
  });

  it('refuses a half-configured Twilio, naming what is missing', () => {
    expect(() => twilioOptionsFrom(testConfig({ VIGIL_TWILIO_ACCOUNT_SID: 'AC1' }))).toThrow(
      'VIGIL_TWILIO_AUTH_TOKEN, VIGIL_TWILIO_FROM: required when any VIGIL_TWILIO_* is set',
    );
    expect(
      twilioOptionsFrom(
        testConfig({ VIGIL_TWILIO_ACCOUNT_SID: 'AC1', VIGIL_TWILIO_AUTH_TOKEN: 't', VIGIL_TWILIO_FROM: '+15005550006' }),
      ),
    ).toEqual({
      accountSid: 'AC1',
      authToken: 't',
      from: '+15005550006',
      baseUrl: 'https://api.twilio.com',
    });
  });
});

describe('templates', () => {
  it('speaks Korean and English, for codes and links', () => {
    const code = { template: 'code', purpose: 'reset', code: '123456', ttlSeconds: 600 } as const;
    expect(renderMessage(code, 'ko', 'sms').text).toBe(
      '[Vigil] 인증번호 [123456] 비밀번호를 재설정하려면 입력해 주세요. (10분 이내)',
    );
    expect(renderMessage(code, 'en', 'sms').text).toBe(
      'Vigil: 123456 is your code to reset your password. It expires in 10 minutes.',
    );
    const mail = renderMessage(code, 'en', 'email');
    expect(mail.subject).toBe('Your Vigil code: 123456');
    expect(mail.html).toContain('<b>123456</b>');
    const link = renderMessage({ template: 'verify-link', url: 'https://x.test/v?token=a&b=<c>', ttlSeconds: 60 }, 'ko', 'email');
    expect(link.subject).toBe('[Vigil] 이메일 주소를 인증해 주세요');
    expect(link.text).toContain('1분 동안');
    expect(link.html).toContain('https://x.test/v?token=a&amp;b=&lt;c&gt;');
  });
});
