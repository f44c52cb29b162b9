import type { Config } from '../config/schema.ts';
import { DeliveryError, type OutgoingSms, type SmsSender } from './delivery-error.ts';

export interface TwilioOptions {
  accountSid: string;
  authToken: string;
  /** A Twilio number (E.164) or a messaging service SID (MG…). */
  from: string;
  /** https://api.twilio.com, or a local stand-in in tests. */
  baseUrl: string;
  timeoutMs?: number;
}

export function twilioOptionsFrom(config: Config): TwilioOptions | undefined {
  const { VIGIL_TWILIO_ACCOUNT_SID: sid, VIGIL_TWILIO_AUTH_TOKEN: token, VIGIL_TWILIO_FROM: from } = config;
  if (!sid && !token && !from) return undefined;
  const missing = [
    ['VIGIL_TWILIO_ACCOUNT_SID', sid],
    ['VIGIL_TWILIO_AUTH_TOKEN', token],
    ['VIGIL_TWILIO_FROM', from],
  ].filter(([, value]) => !value);
  if (missing.length > 0) throw new Error(`${missing.map(([name]) => name).join(', ')}: required when any VIGIL_TWILIO_* is set`);
  return { accountSid: sid!, authToken: token!, from: from!, baseUrl: config.VIGIL_TWILIO_BASE_URL.replace(/\/+$/, '') };
}

/** SMS through Twilio's Messages REST API, with plain fetch (no SDK). */
export class TwilioSms implements SmsSender {
  constructor(private readonly options: TwilioOptions) {}

  async send(sms: OutgoingSms): Promise<void> {
    const { accountSid, authToken, from, baseUrl } = this.options;
    const form = new URLSearchParams({ To: sms.to, Body: sms.text });
    form.set(from.startsWith('MG') ? 'MessagingServiceSid' : 'From', from);
    let response: Response;
    try {
      response = await fetch(`${baseUrl}/2010-04-01/Accounts/${encodeURIComponent(accountSid)}/Messages.json`, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`${accountSid}:${authToken}`).toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: form,
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 10_000),
      });
    } catch (err) {
      throw new DeliveryError(`Twilio unreachable: ${(err as Error).message}`, false, { cause: err });
    }
    if (response.ok) {
      await response.body?.cancel();
      return;
    }
    const body = (await response.json().catch(() => ({}))) as { code?: number; message?: string };
    // 429 and 5xx pass; other 4xx (bad number, bad credentials) will fail the same way again.
    const permanent = response.status !== 429 && response.status < 500;
    throw new DeliveryError(
      `Twilio answered ${response.status}${body.code ? ` (${body.code})` : ''}: ${body.message ?? response.statusText}`,
      permanent,
    );
  }
}
