/**
 * How often stopping a thread while it loads onnxruntime-node aborts its process, and that the
 * scoring pool's close never does (src/biometrics/native-loads.ts). Each run is a child process
 * that starts and stops threads `--cycles` times; a child killed by SIGABRT ("terminate called
 * after throwing an instance of 'Napi::Error'") counts as aborted.
 *
 *   npx tsx bench/terminate-mid-load.ts [--runs 3] [--cycles 60] [--threads 4]
 *
 * bare: worker threads that only load onnxruntime-node, terminated at a random moment of that
 * load (what the pool did before it waited for loads). pool: ScoringPool closed while its threads
 * load (aimed with its loadingThreads stat), as a gateway closed right after it started does.
 */
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { ScoringPool } from '../src/biometrics/scoring-pool.ts';

const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    runs: { type: 'string', default: '3' },
    cycles: { type: 'string', default: '60' },
    threads: { type: 'string', default: '4' },
  },
});
const cycles = Number(args.cycles);
const threads = Number(args.threads);
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Worker threads that load onnxruntime-node and nothing else, stopped `ms` after they start. */
async function bareCycles(): Promise<void> {
  const binding = createRequire(import.meta.url).resolve('onnxruntime-node');
  const code = `require(${JSON.stringify(binding)}); require('node:worker_threads').parentPort.postMessage('loaded');`;
  // How long a load takes here, so the stops land inside it.
  const started = performance.now();
  await new Promise<void>((resolve) => {
    const worker = new Worker(code, { eval: true });
    worker.once('message', () => void worker.terminate().then(() => resolve()));
  });
  const loadMs = performance.now() - started;
  for (let i = 0; i < cycles * threads; i++) {
    const worker = new Worker(code, { eval: true });
    worker.on('error', () => {});
    await pause(Math.random() * loadMs);
    await worker.terminate();
  }
}

async function poolCycles(): Promise<void> {
  for (let i = 0; i < cycles; i++) {
    const pool = new ScoringPool({ threads });
    while (pool.stats.loadingThreads === 0) await pause(1);
    await pause(Math.random() * 60);
    await pool.close();
  }
}

/** 'aborted', 'survived', or how else the child ended. */
function runChild(mode: string): Promise<string> {
  const self = fileURLToPath(import.meta.url);
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', self, 'child', mode, '--cycles', String(cycles), '--threads', String(threads)],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      if (signal === 'SIGABRT' || code === 134) resolve('aborted');
      else if (code === 0) resolve('survived');
      else resolve(`exit ${code ?? signal}: ${stderr.trim().split('\n').slice(-1)[0] ?? ''}`);
    });
  });
}

if (positionals[0] === 'child') {
  await (positionals[1] === 'bare' ? bareCycles() : poolCycles());
} else {
  const runs = Number(args.runs);
  console.log(`${runs} runs of ${cycles} cycles, ${threads} threads each`);
  for (const mode of ['bare', 'pool']) {
    const outcomes: string[] = [];
    for (let run = 0; run < runs; run++) outcomes.push(await runChild(mode));
    const aborted = outcomes.filter((o) => o === 'aborted').length;
    const other = outcomes.filter((o) => o !== 'aborted' && o !== 'survived');
    console.log(`${mode}: ${aborted} of ${runs} runs aborted${other.length ? `; ${other.join('; ')}` : ''}`);
  }
}
