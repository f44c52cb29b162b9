import type { RedisClient } from '../storage/redis.ts';
import type { Config } from '../config/schema.ts';
import type { EmailSender, SmsSender } from './delivery-error.ts';
import { DevOutbox } from './dev-outbox.ts';
import { SmtpMailer, smtpOptionsFrom } from './smtp-mailer.ts';
import { TwilioSms, twilioOptionsFrom } from './twilio-sms.ts';

/** Where messages go. Any may be absent; the dev outbox exists only with VIGIL_DEV_OUTBOX=1. */
export interface DeliveryTransports {
  email?: EmailSender;
  sms?: SmsSender;
  outbox?: DevOutbox;
}

/** Transports from config. Throws naming the variable when a transport is half configured. */
export function transportsFromConfig(config: Config, redis: RedisClient): DeliveryTransports {
  const smtp = smtpOptionsFrom(config);
  const twilio = twilioOptionsFrom(config);
  const transports: DeliveryTransports = {};
  if (smtp) transports.email = new SmtpMailer(smtp);
  if (twilio) transports.sms = new TwilioSms(twilio);
  // loadConfig already refuses the outbox in production; checked again so no other path enables it.
  if (config.VIGIL_DEV_OUTBOX && config.NODE_ENV !== 'production') transports.outbox = new DevOutbox(redis);
  return transports;
}

/** Which channels can deliver at all, judged from config alone (the gateway may not run the worker). */
export function deliverableChannels(config: Config): { email: boolean; sms: boolean } {
  const outbox = config.VIGIL_DEV_OUTBOX && config.NODE_ENV !== 'production';
  return { email: outbox || smtpOptionsFrom(config) !== undefined, sms: outbox || twilioOptionsFrom(config) !== undefined };
}
