import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Config } from '../../../src/config/schema.ts';
import { configEnv, testConfig } from '../../support/config.ts';
import { spawnGateway, type GatewayProcess } from '../../support/gateway.ts';
import { startPrivateFerretDb, startPrivateRedis, type PrivateServer } from '../../support/services.ts';
import { FUZZ_ADMIN_TOKEN } from './fuzz-gateway.ts';

const WORKER = fileURLToPath(new URL('../../../workers/main.ts', import.meta.url));

/** workers/main.ts as a child process. */
export interface WorkerProcess {
  child: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
  /** SIGKILL: no graceful close, jobs in hand are left to BullMQ's stalled-job recovery. */
  kill(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A deployment on loopback for fault and scale-out tests: private Redis (append-only, so a
 * restart keeps acknowledged writes) and FerretDB that the test may stop and start, gateway child
 * processes (`src/main.ts`, as `npm start` runs it) and a separate worker process
 * (`workers/main.ts`), all sharing the two stores. The shared test servers are never touched.
 */
export interface Cluster {
  redis: PrivateServer;
  mongo: PrivateServer;
  config: Config;
  gateways: GatewayProcess[];
  workers: WorkerProcess[];
  addGateway(extraEnv?: Record<string, string>): Promise<GatewayProcess>;
  addWorker(extraEnv?: Record<string, string>): Promise<WorkerProcess>;
  /** Every gateway still running (none exited). */
  allAlive(): boolean;
  close(): Promise<void>;
}

export const CLUSTER_ENV: Record<string, string> = {
  VIGIL_ADMIN_TOKEN: FUZZ_ADMIN_TOKEN,
  VIGIL_DEV_OUTBOX: '1',
  VIGIL_EMBEDDED_WORKERS: '0',
  VIGIL_SIGNUP_PER_IP_HOURLY: '100000',
  VIGIL_LOGIN_PER_IP: '100000',
  VIGIL_LOGIN_PER_IDENTIFIER: '100000',
  VIGIL_CODE_HOURLY_PER_IP: '100000',
  VIGIL_CODE_HOURLY_PER_DESTINATION: '1000',
  VIGIL_CODE_VERIFY_PER_IP_HOURLY: '100000',
  VIGIL_CODE_RESEND_SECONDS: '0',
  VIGIL_AVAILABILITY_PER_IP_PER_MINUTE: '100000',
  VIGIL_WS_MAX_CONNECTIONS_PER_USER: '50',
  VIGIL_DELIVERY_BACKOFF_MS: '200',
  VIGIL_BIOMETRIC_ENROLLMENTS_PER_HOUR: '1000',
};

export async function startWorker(config: Config, extraEnv: Record<string, string>): Promise<WorkerProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', WORKER], {
    env: { ...process.env, ...configEnv(config), LOG_LEVEL: 'info', ...extraEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`worker did not start:\n${output}`)), 30_000);
    const onData = (chunk: Buffer) => {
      if (output.length < 2_000_000) output += chunk.toString();
      if (output.includes('"msg":"workers running"')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`worker exited with ${code} before running:\n${output}`));
    });
  });
  const signal = async (name: NodeJS.Signals) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill(name);
    await exited;
  };
  return { child, output: () => output, exited, kill: () => signal('SIGKILL'), stop: () => signal('SIGTERM') };
}

export async function startCluster(
  options: { gateways?: number; workers?: number; env?: Record<string, string> } = {},
): Promise<Cluster> {
  const [redis, mongo] = await Promise.all([startPrivateRedis({ persistent: true }), startPrivateFerretDb()]);
  const config = testConfig({ REDIS_URL: redis.url, MONGO_URL: mongo.url, ...CLUSTER_ENV, ...options.env });
  const gateways: GatewayProcess[] = [];
  const workers: WorkerProcess[] = [];
  const cluster: Cluster = {
    redis,
    mongo,
    config,
    gateways,
    workers,
    async addGateway(extraEnv = {}) {
      const gateway = await spawnGateway(config, extraEnv);
      gateways.push(gateway);
      return gateway;
    },
    async addWorker(extraEnv = {}) {
      const worker = await startWorker(config, extraEnv);
      workers.push(worker);
      return worker;
    },
    allAlive: () => gateways.every((g) => g.child.exitCode === null && g.child.signalCode === null),
    async close() {
      await Promise.all(workers.map((w) => w.kill()));
      await Promise.all(
        gateways.map(async (g) => {
          if (g.child.exitCode !== null || g.child.signalCode !== null) return;
          g.child.kill('SIGKILL');
          await g.exited;
        }),
      );
      await Promise.all([redis.destroy(), mongo.destroy()]);
    },
  };
  try {
    for (let i = 0; i < (options.gateways ?? 2); i++) await cluster.addGateway();
    for (let i = 0; i < (options.workers ?? 1); i++) await cluster.addWorker();
  } catch (err) {
    await cluster.close();
    throw err;
  }
  return cluster;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls until `probe` returns a value (not undefined/false) or `timeoutMs` pass. */
export async function eventually<T>(
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs: number,
  what: string,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(
        `${what} did not happen within ${timeoutMs} ms${last ? `: ${last instanceof Error ? last.message : JSON.stringify(last)}` : ''}`,
      );
    await sleep(100);
  }
}
