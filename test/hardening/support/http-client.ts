import { Agent, request, type IncomingHttpHeaders } from 'node:http';
import { connect } from 'node:net';

/** One request as the fuzzers build it: bytes, not objects, so anything can be sent. */
export interface RawRequest {
  method: string;
  /** Path and query, already percent-encoded as they go on the wire. */
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
}

export interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  ms: number;
}

/** A hang is a failure: every fuzzed request must be answered within this. */
export const REQUEST_TIMEOUT_MS = 10_000;

/**
 * node:http rather than fetch: fetch refuses a body on GET (dialect B documents one) and hides
 * what went over the wire. Keep-alive, so thousands of cases do not cost thousands of handshakes.
 */
export class HttpClient {
  private readonly agent: Agent;
  private readonly origin: URL;

  constructor(baseUrl: string, maxSockets = 16) {
    this.origin = new URL(baseUrl);
    this.agent = new Agent({ keepAlive: true, maxSockets });
  }

  send(req: RawRequest, timeoutMs = REQUEST_TIMEOUT_MS): Promise<RawResponse> {
    const started = performance.now();
    return new Promise((resolve, reject) => {
      const headers: Record<string, string> = { ...req.headers };
      if (req.body) headers['content-length'] = String(req.body.length);
      const outgoing = request(
        {
          host: this.origin.hostname,
          port: this.origin.port,
          method: req.method,
          path: req.path,
          headers,
          agent: this.agent,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => {
            clearTimeout(timer);
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              body: Buffer.concat(chunks),
              ms: performance.now() - started,
            });
          });
          res.on('error', (err) => {
            clearTimeout(timer);
            reject(err);
          });
        },
      );
      const timer = setTimeout(() => {
        outgoing.destroy(new Error(`no answer within ${timeoutMs} ms: ${req.method} ${req.path.slice(0, 200)}`));
      }, timeoutMs);
      outgoing.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      outgoing.end(req.body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

/**
 * Writes raw bytes on a fresh TCP connection and collects whatever comes back until the server
 * closes it or `idleMs` pass without data. For requests no HTTP client would send (CR/LF in a
 * header, malformed request lines, oversized headers).
 */
export function rawExchange(baseUrl: string, bytes: Buffer | string, idleMs = 1_500): Promise<{ text: string; closed: boolean }> {
  const origin = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(origin.port), origin.hostname);
    const chunks: Buffer[] = [];
    let timer: NodeJS.Timeout | undefined;
    let closed = false;
    const finish = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ text: Buffer.concat(chunks).toString('latin1'), closed });
    };
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(finish, idleMs);
    };
    socket.on('connect', () => {
      socket.write(bytes);
      arm();
    });
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      arm();
    });
    socket.on('end', () => {
      closed = true;
      finish();
    });
    socket.on('close', () => {
      closed = true;
      finish();
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      // A reset after the server answered is a close, not a failure of the test.
      if (err.code === 'ECONNRESET' || err.code === 'EPIPE') {
        closed = true;
        finish();
      } else reject(err);
    });
  });
}

/**
 * Splits a raw HTTP/1.1 exchange into responses (status line, headers, body by Content-Length).
 * `bodiless(i)` says which answers have no body whatever Content-Length says (answers to HEAD).
 */
export function parseRawResponses(
  text: string,
  bodiless: (index: number) => boolean = () => false,
): Array<{ status: number; headers: Array<[string, string]>; body: string }> {
  const out: Array<{ status: number; headers: Array<[string, string]>; body: string }> = [];
  let rest = text;
  while (rest.startsWith('HTTP/1.1 ')) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) break;
    const [statusLine, ...lines] = rest.slice(0, end).split('\r\n');
    const headers = lines.map((line) => {
      const colon = line.indexOf(':');
      return [line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim()] as [string, string];
    });
    const length = bodiless(out.length) ? 0 : Number(headers.find(([name]) => name === 'content-length')?.[1] ?? 0);
    out.push({ status: Number(statusLine!.split(' ')[1]), headers, body: rest.slice(end + 4, end + 4 + length) });
    rest = rest.slice(end + 4 + length);
  }
  return out;
}
