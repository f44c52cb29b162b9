import { fork, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { availableParallelism } from 'node:os';
import type { Logger } from '../observability/logger.ts';

/** VIGIL_PROCESSES as a count: `auto` is one per core the process may use. */
export function processCount(setting: string): number {
  return setting === 'auto' ? availableParallelism() : Number(setting);
}

/** What a supervised gateway process tells the supervisor over the IPC channel once it listens. */
export interface ListeningMessage {
  type: 'vigil:listening';
  port: number;
}

export function isListeningMessage(message: unknown): message is ListeningMessage {
  return (
    typeof message === 'object' &&
    message !== null &&
    (message as ListeningMessage).type === 'vigil:listening' &&
    typeof (message as ListeningMessage).port === 'number'
  );
}

export interface SupervisorOptions {
  /** Gateway processes to keep running (2 or more: with 1 the entry runs the gateway itself). */
  processes: number;
  /** HOST and PORT as configured; PORT 0 is resolved to one free port here, for all the processes. */
  host: string;
  port: number;
  /** VIGIL_EMBEDDED_WORKERS as configured: honoured by the first process only. */
  embeddedWorkers: boolean;
  /** VIGIL_SCORING_THREADS as configured; 0 (one per core) is split between the processes. */
  scoringThreads: number;
  /** SHUTDOWN_TIMEOUT_MS: each process's own budget; the supervisor allows it plus a margin. */
  shutdownTimeoutMs: number;
  logger: Logger;
  /** The module each process runs (the entry, with the same node flags). */
  entry: string;
  /** Restarts allowed within `restartWindowMs` before the supervisor gives up (default 10 in 60 s). */
  maxRestarts?: number;
  restartWindowMs?: number;
}

/** First restart delay, doubled per recent restart of the same slot up to the cap. */
const RESTART_BASE_MS = 250;
const RESTART_CAP_MS = 10_000;

interface Slot {
  index: number;
  child?: ChildProcess;
  restartTimer?: NodeJS.Timeout;
  restarts: number[];
}

/**
 * Runs N gateway processes on one port. Each is `src/main.ts` with VIGIL_PROCESSES=1, so it is
 * exactly the single-process gateway: its own Redis and Mongo connections, connection-quota
 * instance, metrics registry and readiness. uWS listens with SO_REUSEPORT on Linux, so the kernel
 * spreads new connections over the processes; sessions, revocation and the per-user socket quota
 * already hold across processes through Redis.
 *
 * A process that dies is restarted with backoff; too many deaths in the window stop everything
 * (exit 1) rather than flap forever. SIGTERM/SIGINT are forwarded once as SIGTERM; the supervisor
 * exits when every process has drained (0 when all stopped cleanly).
 */
export function runSupervisor(options: SupervisorOptions): void {
  const { logger } = options;
  const maxRestarts = options.maxRestarts ?? 10;
  const restartWindowMs = options.restartWindowMs ?? 60_000;
  const slots: Slot[] = Array.from({ length: options.processes }, (_, index) => ({ index, restarts: [] }));
  const scoringThreads =
    options.scoringThreads > 0 ? options.scoringThreads : Math.max(1, Math.floor(availableParallelism() / options.processes));
  let port = options.port;
  let stopping = false;
  let failed = false;
  let unclean = false;

  const childEnv = (slot: Slot): NodeJS.ProcessEnv => ({
    ...process.env,
    VIGIL_PROCESSES: '1',
    PORT: String(port),
    // BullMQ processors (delivery, training) and their sweepers run in one process: BullMQ would
    // be correct with a consumer per process, but training is CPU-heavy and would multiply.
    VIGIL_EMBEDDED_WORKERS: slot.index === 0 && options.embeddedWorkers ? '1' : '0',
    VIGIL_SCORING_THREADS: String(scoringThreads),
  });

  /** Forks the slot's process; resolves with its port once it listens, rejects if it exits first. */
  const spawn = (slot: Slot): Promise<number> => {
    // Own process group: a terminal's Ctrl-C reaches the supervisor only, which forwards it once.
    const child = fork(options.entry, process.argv.slice(2), {
      env: childEnv(slot),
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      detached: true,
    });
    slot.child = child;
    return new Promise<number>((resolve, reject) => {
      let listening = false;
      child.on('message', (message: unknown) => {
        if (!isListeningMessage(message) || listening) return;
        listening = true;
        logger.info({ slot: slot.index, pid: child.pid, port: message.port }, 'gateway process listening');
        resolve(message.port);
      });
      child.once('exit', (code, signal) => {
        if (slot.child === child) slot.child = undefined;
        if (!listening) reject(new Error(`gateway process ${slot.index} exited (${signal ?? code}) before listening`));
        if (stopping) {
          // One stopped by our SIGTERM before it had installed its handlers had nothing to drain.
          if (code !== 0 && signal !== 'SIGTERM') unclean = true;
          return maybeFinish();
        }
        if (listening) restart(slot, code, signal);
      });
    });
  };

  const restart = (slot: Slot, code: number | null, signal: NodeJS.Signals | null) => {
    const now = Date.now();
    for (const s of slots) s.restarts = s.restarts.filter((at) => now - at < restartWindowMs);
    const recent = slots.reduce((sum, s) => sum + s.restarts.length, 0);
    if (recent >= maxRestarts) {
      logger.error(
        { slot: slot.index, code, signal, restarts: recent, windowMs: restartWindowMs },
        'gateway processes keep dying; stopping',
      );
      failed = true;
      return stop('restart limit');
    }
    slot.restarts.push(now);
    const delayMs = Math.min(RESTART_CAP_MS, RESTART_BASE_MS * 2 ** (slot.restarts.length - 1));
    logger.warn({ slot: slot.index, code, signal, delayMs }, 'gateway process died; restarting');
    slot.restartTimer = setTimeout(() => {
      slot.restartTimer = undefined;
      if (stopping) return;
      // A replacement that dies before listening counts as another death of the slot.
      spawn(slot).catch((err: unknown) => {
        logger.warn({ slot: slot.index, err: (err as Error).message }, 'restarted gateway process failed to start');
        if (!stopping) restart(slot, null, null);
      });
    }, delayMs);
  };

  let hardStop: NodeJS.Timeout | undefined;
  const stop = (reason: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ reason }, 'stopping gateway processes');
    for (const slot of slots) {
      clearTimeout(slot.restartTimer);
      slot.child?.kill('SIGTERM');
    }
    hardStop = setTimeout(() => {
      logger.error('gateway processes did not stop in time; killing them');
      for (const slot of slots) slot.child?.kill('SIGKILL');
      process.exit(1);
    }, options.shutdownTimeoutMs + 2_000);
    maybeFinish();
  };

  const maybeFinish = () => {
    if (slots.some((slot) => slot.child)) return;
    clearTimeout(hardStop);
    logger.info('all gateway processes stopped');
    process.exit(failed || unclean ? 1 : 0);
  };

  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => stop(signal));

  const startAll = async () => {
    // uSockets sets SO_REUSEPORT only on an explicit port: a listener on port 0 could not be
    // joined, so the free port is picked here (and is briefly free for anyone to take).
    if (port === 0) port = await freePort(options.host);
    await Promise.all(slots.map((slot) => spawn(slot)));
  };
  startAll().then(
    () => logger.info({ port, processes: options.processes, pid: process.pid }, 'supervising gateway processes'),
    (err: unknown) => {
      if (stopping) return; // a signal during start-up: the processes are being stopped already
      // A process that cannot start (the port taken, a store unreachable) would fail the same
      // way on restart: stop the others and report it.
      logger.error({ err: (err as Error).message }, 'a gateway process failed to start');
      failed = true;
      stop('start failed');
    },
  );
}

function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
