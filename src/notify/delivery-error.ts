/**
 * A send that failed. `permanent` failures (the server refused the address or our credentials)
 * are not retried; transient ones (timeouts, 4xx SMTP replies, 429/5xx HTTP) are, with backoff.
 */
export class DeliveryError extends Error {
  constructor(
    message: string,
    readonly permanent: boolean,
    options: { cause?: unknown } = {},
  ) {
    super(message, options);
    this.name = 'DeliveryError';
  }
}

export interface OutgoingMail {
  to: string;
  subject: string;
  text: string;
  html?: string;
}

export interface OutgoingSms {
  to: string;
  text: string;
}

export interface EmailSender {
  send(mail: OutgoingMail): Promise<void>;
  close(): Promise<void>;
}

export interface SmsSender {
  send(sms: OutgoingSms): Promise<void>;
}
