import { availableParallelism } from 'node:os';
import { libuvPoolSize, PasswordHasher } from '../src/identity/credentials/password-hasher.ts';

/**
 * The bcrypt bound of the login storm, as its own process (run by bench/login-storm.ts): how many
 * password verifications per second the gateway's own hasher (`PasswordHasher.verifyPassword`,
 * bcrypt's async compare on libuv's thread pool) completes on this machine at `cost`, with enough
 * verifications in flight to keep every pool thread busy (no VIGIL_BCRYPT_CONCURRENCY limit: the
 * bound is what the whole pool can do, so logins ÷ bound also shows what the gateway's limit costs). The process inherits the environment
 * the gateway gets, so UV_THREADPOOL_SIZE (libuv's default: 4) is the same on both sides.
 *
 * argv[2]: JSON {cost, warmupMs, durationMs}. Prints one JSON line: verifications per second,
 * this process's CPU (all threads) per second, the pool size.
 */
interface Input {
  cost: number;
  warmupMs: number;
  durationMs: number;
}

const input = JSON.parse(process.argv[2] ?? '{}') as Input;
const poolSize = libuvPoolSize();
// Unthrottled: every pool thread hashing, the most this machine's pool can verify.
const hasher = new PasswordHasher(input.cost, poolSize);
const password = 'storm-bound-password';
const account = { passwordHash: await hasher.hash(password) };

let measuring = false;
let stopping = false;
let verified = 0;
let mismatches = 0;

async function lane(): Promise<void> {
  while (!stopping) {
    const ok = await hasher.verifyPassword(account, password);
    if (!measuring) continue;
    verified++;
    if (!ok) mismatches++;
  }
}

// Twice the pool size in flight: a thread that finishes always finds the next comparison queued.
const running = Promise.all(Array.from({ length: poolSize * 2 }, lane));
await new Promise((resolve) => setTimeout(resolve, input.warmupMs));
measuring = true;
const cpu0 = process.cpuUsage();
const t0 = performance.now();
await new Promise((resolve) => setTimeout(resolve, input.durationMs));
measuring = false;
const seconds = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
stopping = true;
await running;
if (mismatches > 0) throw new Error(`${mismatches} verifications of the right password failed`);

process.stdout.write(
  `${JSON.stringify({
    verifiesPerSecond: verified / seconds,
    cpuMsPerSecond: (cpu.user + cpu.system) / 1000 / seconds,
    poolSize,
    cores: availableParallelism(),
  })}\n`,
);
