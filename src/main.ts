import { runService } from './server/service-process.ts';

/** Process entry: configuration, the gateway, and signal-driven graceful shutdown. */
runService('vigil', async (config, logger) => {
  // Imported after configuration so a missing native uWS binary is reported as such.
  const { startGateway } = await import('./gateway/gateway.ts');
  return startGateway(config, { logger });
});
