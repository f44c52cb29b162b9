import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface SpawnedGateway {
  child: ChildProcess;
  url: string;
  stop(): Promise<void>;
}

/**
 * A gateway child process for load runs (`--spawn`): production mode (no per-message schema
 * checks), its own database and key prefix, and abuse limits raised so one IP may sign up and
 * log in every test account. Everything else is the default configuration.
 *
 * `verify`: continuous verification on, with the impostor policy `notify` (a replayed stream that
 * turns impostor must not be closed mid-measurement by a step-up nobody answers). Without it the channel runs alone (VIGIL_CV_ENABLED=false),
 * as the realtime figures were measured. Variables already in the environment win, so
 * `VIGIL_CV_FEATURES=main npm run load …` compares where features are computed.
 */
export async function spawnLoadGateway(perUser: number, verify = false): Promise<SpawnedGateway> {
  execFileSync('bash', [`${ROOT}scripts/services.sh`, 'start', '--quiet'], { stdio: 'inherit' });
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    NODE_ENV: 'production',
    LOG_LEVEL: 'info',
    PORT: '0',
    MONGO_DB: 'vigil_load',
    REDIS_PREFIX: 'vigil:load:',
    VIGIL_SIGNUP_PER_IP_HOURLY: '1000000',
    VIGIL_LOGIN_PER_IP: '1000000',
    VIGIL_LOGIN_PER_IDENTIFIER: '1000',
    VIGIL_WS_MAX_CONNECTIONS_PER_USER: String(perUser),
    ...(verify
      ? { VIGIL_CV_ENABLED: 'true', VIGIL_CV_POLICY_IMPOSTOR: 'notify', VIGIL_CV_POLICY_UNCERTAIN: 'notify' }
      : { VIGIL_CV_ENABLED: 'false' }),
  };
  // An operator's explicit settings for the run (VIGIL_CV_*, VIGIL_SCORING_*) take precedence.
  for (const [key, value] of Object.entries(process.env))
    if (/^VIGIL_(CV|SCORING)_/.test(key) && value !== undefined) env[key] = value;
  // LOAD_GATEWAY_NODE_ARGS adds node flags to the gateway only (e.g. --cpu-prof, which NODE_OPTIONS refuses).
  const nodeArgs = (process.env.LOAD_GATEWAY_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', `${ROOT}src/main.ts`], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    cwd: ROOT,
  });
  // However the load tester ends (hard stop, error, Ctrl-C), the child ends with it.
  const killChild = () => child.kill('SIGTERM');
  process.once('exit', killChild);
  let output = '';
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the gateway did not start within 30 s:\n${output}`)), 30_000);
    // LOAD_GATEWAY_LOG=file keeps the gateway's whole log (a crash under load is otherwise lost).
    const log = process.env.LOAD_GATEWAY_LOG ? createWriteStream(process.env.LOAD_GATEWAY_LOG, { flags: 'a' }) : undefined;
    const onData = (chunk: Buffer) => {
      log?.write(chunk);
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
