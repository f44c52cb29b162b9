import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface SoakGateway {
  child: ChildProcess;
  url: string;
  stop(): Promise<void>;
}

/**
 * The gateway under soak: `src/main.ts` as a child process in production mode (no per-reply
 * schema checks), on the local Redis and FerretDB (`scripts/services.sh`), with its own database
 * and key prefix, abuse limits raised so one IP can log in thousands of times, and continuous
 * verification off (sockets without a model would be refused verification streams; the channel
 * then validates, sequences and acknowledges every frame).
 */
export async function spawnSoakGateway(perUser: number): Promise<SoakGateway> {
  execFileSync('bash', [`${ROOT}scripts/services.sh`, 'start', '--quiet'], { stdio: 'inherit' });
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    NODE_ENV: 'production',
    // info: one line per HTTP request (tens per second here) and the "listening" line with the port.
    LOG_LEVEL: 'info',
    PORT: '0',
    MONGO_DB: 'vigil_soak',
    REDIS_PREFIX: 'vigil:soak:',
    VIGIL_CV_ENABLED: 'false',
    VIGIL_SIGNUP_PER_IP_HOURLY: '1000000',
    VIGIL_LOGIN_PER_IP: '1000000',
    VIGIL_LOGIN_PER_IDENTIFIER: '1000000',
    VIGIL_WS_MAX_CONNECTIONS_PER_USER: String(perUser),
  };
  const child = spawn(process.execPath, ['--import', 'tsx', `${ROOT}src/main.ts`], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    cwd: ROOT,
  });
  const killChild = () => child.kill('SIGTERM');
  process.once('exit', killChild);
  let output = '';
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the gateway did not start within 30 s:\n${output}`)), 30_000);
    const onData = (chunk: Buffer) => {
      if (output.length < 64_000) output += chunk.toString();
      const match = /"port":(\d+).*"msg":"listening"/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    };
    // Keep draining both pipes for the whole run, or the child blocks on a full pipe.
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the gateway exited with ${code}:\n${output}`));
    });
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
