import { fileURLToPath } from 'node:url';
import { ConfigError, loadConfig } from './config/config.ts';
import { createLogger } from './observability/logger.ts';
import { runService } from './server/service-process.ts';
import { processCount, runSupervisor, type ListeningMessage } from './server/supervisor.ts';

/**
 * Process entry: configuration, the gateway, and signal-driven graceful shutdown. With
 * VIGIL_PROCESSES above 1 this process only supervises that many gateway processes (each this
 * same entry with VIGIL_PROCESSES=1) sharing the port.
 */
const processes = supervisedProcesses();
if (processes > 1) {
  const config = loadConfig();
  runSupervisor({
    processes,
    host: config.HOST,
    port: config.PORT,
    embeddedWorkers: config.VIGIL_EMBEDDED_WORKERS,
    scoringThreads: config.VIGIL_SCORING_THREADS,
    shutdownTimeoutMs: config.SHUTDOWN_TIMEOUT_MS,
    logger: createLogger(config.LOG_LEVEL, { component: 'supervisor' }),
    entry: fileURLToPath(import.meta.url),
  });
} else {
  runService(
    'vigil',
    async (config, logger) => {
      // Imported after configuration so a missing native uWS binary is reported as such.
      const { startGateway } = await import('./gateway/gateway.ts');
      return startGateway(config, { logger });
    },
    {
      // Under the supervisor: report the port (PORT=0 resolved) once listening and signals are handled.
      onStarted: (gateway) => process.send?.({ type: 'vigil:listening', port: gateway.port } satisfies ListeningMessage),
    },
  );
}

/** VIGIL_PROCESSES as a count; a bad configuration is left to runService to report (exit 78). */
function supervisedProcesses(): number {
  try {
    return processCount(loadConfig().VIGIL_PROCESSES);
  } catch (err) {
    if (err instanceof ConfigError) return 1;
    throw err;
  }
}
