import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import * as hdr from 'hdr-histogram-js';
import { BENCH_INTROSPECTION_TOKEN } from './bench-env.ts';

/**
 * Closed-loop keep-alive load over raw sockets (so the client, which shares the machine, costs
 * as little CPU as possible): C connections, each with one request in flight, cycling through
 * the tokens. Latencies go into an HDR histogram (µs). Run as its own process by introspection.ts.
 * argv[2]: JSON {port, tokensFile, connections, warmupMs, durationMs}. Prints the result as JSON.
 */
interface Options {
  port: number;
  tokensFile: string;
  connections: number;
  warmupMs: number;
  durationMs: number;
}

const options = JSON.parse(process.argv[2] ?? '{}') as Options;
const tokens = JSON.parse(readFileSync(options.tokensFile, 'utf8')) as string[];
// Requests are built once; sending one is a single write.
const requests = tokens.map((token) => {
  const body = JSON.stringify({ token });
  return Buffer.from(
    `POST /v1/tokens/introspect HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${BENCH_INTROSPECTION_TOKEN}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
});

const histogram = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
let measuring = false;
let stopping = false;
let completed = 0;
let failures = 0;
let next = 0;
const ACTIVE = Buffer.from('"active":true');
const HEADER_END = Buffer.from('\r\n\r\n');

function drive(socket: Socket): Promise<void> {
  return new Promise((resolve, reject) => {
    let buffer: Buffer = Buffer.alloc(0);
    let sentAt = 0n;
    const send = () => {
      if (stopping) {
        socket.end();
        resolve();
        return;
      }
      sentAt = process.hrtime.bigint();
      socket.write(requests[next++ % requests.length]!);
    };
    socket.on('data', (chunk: Buffer) => {
      buffer = buffer.length === 0 ? chunk : Buffer.concat([buffer, chunk]);
      const headerEnd = buffer.indexOf(HEADER_END);
      if (headerEnd < 0) return;
      const head = buffer.subarray(0, headerEnd).toString('latin1');
      const length = Number(/content-length:\s*(\d+)/i.exec(head)?.[1] ?? 0);
      const total = headerEnd + 4 + length;
      if (buffer.length < total) return;
      const ok = head.startsWith('HTTP/1.1 200') && buffer.subarray(headerEnd + 4, total).includes(ACTIVE);
      buffer = buffer.subarray(total);
      if (measuring) {
        histogram.recordValue(Math.max(1, Number((process.hrtime.bigint() - sentAt) / 1000n)));
        completed++;
        if (!ok) failures++;
      }
      send();
    });
    socket.on('error', reject);
    send();
  });
}

const sockets = await Promise.all(
  Array.from(
    { length: options.connections },
    () =>
      new Promise<Socket>((resolve, reject) => {
        const socket = connect(options.port, '127.0.0.1', () => resolve(socket));
        socket.setNoDelay(true);
        socket.once('error', reject);
      }),
  ),
);
const running = Promise.all(sockets.map(drive));
await new Promise((resolve) => setTimeout(resolve, options.warmupMs));
measuring = true;
const started = process.hrtime.bigint();
await new Promise((resolve) => setTimeout(resolve, options.durationMs));
measuring = false;
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
stopping = true;
await running;

process.stdout.write(
  `${JSON.stringify({
    requests: completed,
    failures,
    seconds,
    rps: completed / seconds,
    p50us: histogram.getValueAtPercentile(50),
    p99us: histogram.getValueAtPercentile(99),
    p999us: histogram.getValueAtPercentile(99.9),
    maxUs: histogram.maxValue,
  })}\n`,
);
