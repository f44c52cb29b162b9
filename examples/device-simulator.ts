/**
 * A wearable in a few lines of the client SDK: logs in, enrols on the socket if the account has no
 * model yet, then streams a recording in real time and prints each continuous-verification verdict.
 *
 *   node --import tsx examples/device-simulator.ts --url http://127.0.0.1:8080 \
 *       --identifier ada --password 'correct horse battery' \
 *       --csv test/fixtures/wisdm-walking/data_1600_accel_watch.txt --columns 2,3,4 --rate 20
 *
 * The CSV holds one sample per line; --columns picks the (0-based) numeric columns, all by
 * default; a header line and trailing ';' are ignored. The first --enrol-seconds train the
 * model; the rest is streamed, never seen in training.
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { StreamClient, refreshingTokenSource, type TokenPair } from '../protocol/client/index.ts';

const { values: args } = parseArgs({
  options: {
    url: { type: 'string', default: 'http://127.0.0.1:8080' },
    identifier: { type: 'string' },
    password: { type: 'string' },
    csv: { type: 'string' },
    columns: { type: 'string' },
    rate: { type: 'string', default: '20' },
    'enrol-seconds': { type: 'string', default: '70' },
    'stream-seconds': { type: 'string', default: '40' },
    modality: { type: 'string', default: 'motion' },
  },
});

function fail(message: string): never {
  console.error(`device-simulator: ${message}`);
  process.exit(2);
}

if (!args.identifier || !args.password || !args.csv) fail('--identifier, --password and --csv are required');
const rate = Number(args.rate);
const enrolSeconds = Number(args['enrol-seconds']);
const streamSeconds = Number(args['stream-seconds']);
if (!(rate > 0) || !(enrolSeconds > 0) || !(streamSeconds > 0))
  fail('--rate, --enrol-seconds and --stream-seconds must be positive numbers');

/** Rows of numbers from the CSV (header and unparseable lines skipped). */
async function readSamples(path: string, columns: number[] | undefined): Promise<number[][]> {
  const rows: number[][] = [];
  for (const line of (await readFile(path, 'utf8')).split('\n')) {
    const cells = line.trim().replace(/;$/, '').split(',');
    const picked = columns ? columns.map((c) => cells[c] ?? '') : cells;
    const values = picked.map(Number);
    if (picked.length > 0 && picked.every((c) => c.trim() !== '') && values.every(Number.isFinite)) rows.push(values);
  }
  if (rows.length === 0) fail(`no numeric rows in ${path}`);
  return rows;
}

const columns = args.columns?.split(',').map(Number);
const rows = await readSamples(args.csv, columns);
const channels = rows[0]!.length === 3 ? ['x', 'y', 'z'] : rows[0]!.map((_, i) => `c${i}`);
const enrolRows = rows.slice(0, Math.round(enrolSeconds * rate));
const streamRows = rows.slice(enrolRows.length, enrolRows.length + Math.round(streamSeconds * rate));

const login = await fetch(`${args.url}/v1/sessions`, {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({
    identifier: args.identifier,
    password: args.password,
    device: { id: 'device-simulator', model: 'Vigil device simulator' },
  }),
});
if (login.status !== 200 && login.status !== 201) fail(`login answered ${login.status}: ${await login.text()}`);
const tokens = (await login.json()) as TokenPair;

const client = new StreamClient({ url: args.url, WebSocket, getToken: refreshingTokenSource({ baseUrl: args.url, tokens }) });
client.on('stream.refused', ({ code, message }) => fail(`stream refused: ${code} ${message}`));
client.on('close', ({ code, reason, willReconnect }) =>
  console.log(`socket closed ${code} ${reason}${willReconnect ? ', reconnecting' : ''}`),
);
const ready = await client.connect();
console.log(`connected as ${ready.userId}; model ${ready.model ? `v${ready.model.version}` : 'none'}`);

const FRAME = Math.max(1, Math.round(rate / 2)); // half a second of samples per frame
const frames = (part: number[][]) =>
  Array.from({ length: Math.ceil(part.length / FRAME) }, (_, i) => part.slice(i * FRAME, (i + 1) * FRAME).flat());
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

if (!ready.model) {
  console.log(`enrolling on ${enrolRows.length / rate} s of samples…`);
  const enrolment = client.enroll({ rate, channels, modality: args.modality });
  const done = Promise.race([
    client.once('enroll.ready').then((m) => `model v${m.modelVersion} ready`),
    client.once('enroll.failed').then((m) => fail(`enrolment failed: ${m.code} ${m.message}`)),
  ]);
  for (const values of frames(enrolRows)) {
    enrolment.send(values);
    await sleep(20); // well under the per-socket message rate
  }
  enrolment.commit();
  console.log(await done);
}

let verdicts = 0;
client.on('verdict', (v) => {
  verdicts++;
  console.log(
    `window ${v.window}: ${v.decision} (trust ${v.trust.toFixed(2)}, score ${v.score.toFixed(2)}, ${v.latencyMs.toFixed(0)} ms)`,
  );
});
const stream = client.openStream({ rate, channels, modality: args.modality });
console.log(`streaming ${streamRows.length / rate} s in real time…`);
for (const values of frames(streamRows)) {
  stream.send(values);
  await sleep((FRAME / rate) * 1000);
}
await sleep(1500); // the last windows' verdicts
client.close();
console.log(`${verdicts} verdicts`);
if (verdicts === 0) process.exit(1);
