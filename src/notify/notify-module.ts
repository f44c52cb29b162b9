import type { GatewayContext } from '../server/context.ts';
import type { GatewayModule } from '../server/gateway-module.ts';
import { createDeliveryQueue } from '../storage/queues.ts';
import { startDeliveryWorker, type DeliveryWorker } from '../../workers/delivery-processor.ts';
import { Notifier } from './notifier.ts';
import { smtpOptionsFrom } from './smtp-mailer.ts';
import { deliverableChannels } from './transports.ts';
import { twilioOptionsFrom } from './twilio-sms.ts';

export interface Notify {
  notifier: Notifier;
  module: GatewayModule;
}

/**
 * Mail/SMS delivery for the gateway: the queue producers use, the delivery worker when it runs
 * in-process (VIGIL_EMBEDDED_WORKERS). The dev outbox is read through identity's outbox route.
 */
export function createNotify(ctx: GatewayContext): Notify {
  const { config, logger } = ctx;
  // Half-configured transports refuse start-up here, naming the variable, not at the first send.
  smtpOptionsFrom(config);
  twilioOptionsFrom(config);
  const channels = deliverableChannels(config);
  const queue = createDeliveryQueue(config);
  queue.on('error', (err: Error) => logger.warn({ err: err.message }, 'delivery queue error'));
  const notifier = new Notifier(queue, channels);
  let worker: DeliveryWorker | undefined;

  return {
    notifier,
    module: {
      name: 'notify',
      async start() {
        for (const channel of ['email', 'sms'] as const) {
          if (!channels[channel])
            logger.warn({ channel }, `no ${channel} transport configured: codes by ${channel} answer CHANNEL_UNAVAILABLE`);
        }
        if (config.VIGIL_EMBEDDED_WORKERS) worker = await startDeliveryWorker(config, logger.child({ component: 'delivery' }));
      },
      async close() {
        await worker?.close();
        await queue.close();
      },
    },
  };
}
