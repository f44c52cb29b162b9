import { Gauge } from 'prom-client';
import type { GatewayContext } from '../server/context.ts';
import type { GatewayModule } from '../server/gateway-module.ts';
import { ConnectionQuota } from './connection-quota.ts';
import { RealtimeChannel } from './realtime-channel.ts';
import { createRealtimeMetrics } from './realtime-metrics.ts';
import type { SessionEvents, TokenResolver } from './stream-auth.ts';
import { mountStreamEndpoint } from './stream-endpoint.ts';
import { ClientAddressResolver } from '../server/http/client-address.ts';

export interface RealtimeModule extends GatewayModule {
  /** Hooks attach here; other concerns push to and close sockets through it. */
  readonly channel: RealtimeChannel;
}

/** The realtime channel (`GET /v1/stream`), built from configuration and the tokens concern. */
export function createRealtimeModule(
  ctx: GatewayContext,
  deps: { tokens: TokenResolver; sessions: SessionEvents },
): RealtimeModule {
  const { config, logger } = ctx;
  const metrics = createRealtimeMetrics(ctx.metrics.registry);
  const quota = new ConnectionQuota(
    ctx.redis,
    {
      limit: config.VIGIL_WS_MAX_CONNECTIONS_PER_USER,
      leaseSeconds: config.VIGIL_WS_CONNECTION_LEASE_SECONDS,
      batch: config.VIGIL_WS_ADMISSION_BATCH,
    },
    logger,
  );
  // Which process answered a scrape: with several gateway processes on one port (VIGIL_PROCESSES)
  // each scrape reaches one of them; the id is the prefix of this process's connection ids.
  new Gauge({
    name: 'vigil_instance_info',
    help: 'This gateway process: its connection-quota instance id (the prefix of its connectionIds) and pid',
    labelNames: ['instance', 'pid'] as const,
    registers: [ctx.metrics.registry],
  }).set({ instance: quota.instanceId, pid: String(process.pid) }, 1);
  const limits = {
    maxMessageBytes: config.VIGIL_WS_MAX_MESSAGE_BYTES,
    maxMessagesPerSecond: config.VIGIL_WS_MAX_MESSAGES_PER_SECOND,
    maxStreams: config.VIGIL_WS_MAX_STREAMS,
    idleTimeoutSeconds: config.VIGIL_WS_IDLE_TIMEOUT_SECONDS,
    maxBackpressure: config.VIGIL_WS_MAX_BACKPRESSURE_BYTES,
    authTimeoutMs: config.VIGIL_WS_AUTH_TIMEOUT_MS,
    expiryWarningSeconds: config.VIGIL_WS_EXPIRY_WARNING_SECONDS,
  };
  const channel = new RealtimeChannel({
    limits,
    tokens: deps.tokens,
    sessions: deps.sessions,
    quota,
    metrics,
    logger,
    validateMessages: config.NODE_ENV !== 'production',
  });
  return {
    name: 'realtime',
    channel,
    start: () => channel.start(),
    close: () => channel.stop(),
    mountWs(app, host) {
      mountStreamEndpoint(app, channel, host, {
        ...limits,
        clientAddress: ClientAddressResolver.fromConfig(config.TRUST_PROXY, config.VIGIL_TRUSTED_PROXIES),
        maxPendingPerClient: config.VIGIL_WS_MAX_PENDING_PER_CLIENT,
        metrics,
        logger,
      });
    },
  };
}
