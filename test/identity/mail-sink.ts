import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

export interface ReceivedMail {
  from: string;
  to: string[];
  raw: string;
}

/**
 * A real SMTP server (the `smtp-server` package) on a free port. `failNext` makes the next n
 * messages fail with a transient 451 after their data arrived, as a busy relay would.
 */
export async function startSmtpSink(): Promise<{
  port: number;
  mails: ReceivedMail[];
  attempts: () => number;
  failNext(n: number, code?: number): void;
  close(): Promise<void>;
}> {
  const mails: ReceivedMail[] = [];
  let attempts = 0;
  let failures = 0;
  let failCode = 451;
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        attempts++;
        if (failures > 0) {
          failures--;
          const err = new Error(failCode >= 500 ? 'Mailbox unavailable' : 'Try again later') as Error & { responseCode: number };
          err.responseCode = failCode;
          callback(err);
          return;
        }
        mails.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks).toString('utf8'),
        });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.server.address() as AddressInfo).port;
  return {
    port,
    mails,
    attempts: () => attempts,
    failNext(n, code = 451) {
      failures = n;
      failCode = code;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Decodes a (possibly quoted-printable) text part well enough to find a code or a link in it. */
export function mailText(raw: string): string {
  return raw.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

export interface TwilioRequest {
  path: string;
  authorization: string;
  form: URLSearchParams;
}

/** A local stand-in for Twilio's Messages API: records requests, answers with queued statuses. */
export async function startTwilioStub(): Promise<{
  baseUrl: string;
  requests: TwilioRequest[];
  answerNext(...statuses: number[]): void;
  close(): Promise<void>;
}> {
  const requests: TwilioRequest[] = [];
  const queued: number[] = [];
  const read = (req: IncomingMessage) =>
    new Promise<string>((resolve) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => resolve(body));
    });
  const server: Server = createServer((req, res) => {
    void read(req).then((body) => {
      requests.push({ path: req.url ?? '', authorization: req.headers.authorization ?? '', form: new URLSearchParams(body) });
      const status = queued.shift() ?? 201;
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify(
          status === 201 ? { sid: 'SM123', status: 'queued' } : { code: status === 400 ? 21211 : 20500, message: 'stub failure' },
        ),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    requests,
    answerNext: (...statuses) => queued.push(...statuses),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export async function waitFor<T>(
  probe: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 10_000,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
