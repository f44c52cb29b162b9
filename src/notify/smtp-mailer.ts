import nodemailer, { type Transporter } from 'nodemailer';
import type { Config } from '../config/schema.ts';
import { DeliveryError, type EmailSender, type OutgoingMail } from './delivery-error.ts';

export interface SmtpOptions {
  host: string;
  port: number;
  /** Implicit TLS (465); otherwise STARTTLS when the server offers it. */
  secure: boolean;
  requireTls: boolean;
  rejectUnauthorized: boolean;
  user?: string;
  password?: string;
  from: string;
}

export function smtpOptionsFrom(config: Config): SmtpOptions | undefined {
  if (!config.VIGIL_SMTP_HOST) return undefined;
  if (config.VIGIL_SMTP_USER && !config.VIGIL_SMTP_PASSWORD) {
    throw new Error('VIGIL_SMTP_PASSWORD: required when VIGIL_SMTP_USER is set');
  }
  return {
    host: config.VIGIL_SMTP_HOST,
    port: config.VIGIL_SMTP_PORT,
    secure: config.VIGIL_SMTP_SECURE,
    requireTls: config.VIGIL_SMTP_REQUIRE_TLS,
    rejectUnauthorized: config.VIGIL_SMTP_TLS_REJECT_UNAUTHORIZED,
    user: config.VIGIL_SMTP_USER,
    password: config.VIGIL_SMTP_PASSWORD,
    from: config.VIGIL_MAIL_FROM,
  };
}

/** Mail through an SMTP server with nodemailer (pooled connection, timeouts well under the job lock). */
export class SmtpMailer implements EmailSender {
  private readonly transport: Transporter;

  constructor(private readonly options: SmtpOptions) {
    this.transport = nodemailer.createTransport({
      host: options.host,
      port: options.port,
      secure: options.secure,
      requireTLS: options.requireTls,
      auth: options.user ? { user: options.user, pass: options.password } : undefined,
      tls: { rejectUnauthorized: options.rejectUnauthorized },
      connectionTimeout: 10_000,
      greetingTimeout: 10_000,
      socketTimeout: 20_000,
    });
  }

  async send(mail: OutgoingMail): Promise<void> {
    try {
      await this.transport.sendMail({
        from: this.options.from,
        to: mail.to,
        subject: mail.subject,
        text: mail.text,
        html: mail.html,
      });
    } catch (err) {
      // 5xx replies are final (unknown mailbox, refused sender); 4xx and network errors may pass later.
      const code = (err as { responseCode?: unknown }).responseCode;
      const permanent = typeof code === 'number' && code >= 500 && code < 600;
      throw new DeliveryError(`SMTP send failed: ${(err as Error).message}`, permanent, { cause: err });
    }
  }

  async close(): Promise<void> {
    this.transport.close();
  }
}
