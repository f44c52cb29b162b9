import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../', import.meta.url));

/**
 * The /metrics credential of gateways the load and soak tools spawn in production mode (where
 * /metrics is closed without one); a gateway given with --url is read with VIGIL_METRICS_TOKEN.
 */
export const TOOLS_METRICS_TOKEN = 'local-tools-metrics-credential';

/** Headers that read /metrics of a gateway a tool spawned or was pointed at. */
export function metricsHeaders(): Record<string, string> {
  return { authorization: `Bearer ${process.env.VIGIL_METRICS_TOKEN ?? TOOLS_METRICS_TOKEN}` };
}

export interface ChildGateway {
  child: ChildProcess;
  url: string;
  stop(): Promise<void>;
}

/**
 * `src/main.ts` as a child process on the local services (started if needed), for the load and
 * soak generators: `env` is laid over this process's environment, PORT=0 and the port is read
 * from the "listening" log line. However the parent ends, the child ends with it.
 *
 * LOAD_GATEWAY_LOG=file keeps the child's whole log (a crash under load is otherwise lost);
 * LOAD_GATEWAY_NODE_ARGS adds node flags to the child only (e.g. --cpu-prof, which NODE_OPTIONS refuses).
 */
export async function spawnChildGateway(env: Record<string, string>): Promise<ChildGateway> {
  execFileSync('bash', [`${ROOT}scripts/services.sh`, 'start', '--quiet'], { stdio: 'inherit' });
  const nodeArgs = (process.env.LOAD_GATEWAY_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', `${ROOT}src/main.ts`], {
    env: { ...(process.env as Record<string, string>), PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    cwd: ROOT,
  });
  const killChild = () => child.kill('SIGTERM');
  process.once('exit', killChild);
  const log = process.env.LOAD_GATEWAY_LOG ? createWriteStream(process.env.LOAD_GATEWAY_LOG, { flags: 'a' }) : undefined;
  let output = '';
  const port = await listeningPort(child, (chunk) => {
    log?.write(chunk);
    if (output.length < 64_000) output += chunk.toString();
    return output;
  });
  return {
    child,
    url: `http://127.0.0.1:${port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        process.off('exit', killChild);
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

/**
 * The port a gateway child process listens on, from its "listening" log line. `collect` gets
 * every chunk of stdout and stderr for the child's whole life (both pipes must keep draining, or
 * the child blocks on a full pipe) and returns the output so far.
 */
export function listeningPort(child: ChildProcess, collect: (chunk: Buffer) => string): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`the gateway did not start within 30 s:\n${output}`)), 30_000);
    const onData = (chunk: Buffer) => {
      output = collect(chunk);
      const match = /"port":(\d+).*"msg":"listening"/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the gateway exited with ${code} before listening:\n${output}`));
    });
  });
}
