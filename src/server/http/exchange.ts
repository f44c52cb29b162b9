import { VigilError } from '../../../protocol/errors.ts';
import type { HttpResponse } from '../uws.ts';
import { readBody } from './body.ts';

/** One response as the router writes it: status line, headers in order, and a body (none for HEAD). */
export interface ReplyWrite {
  status: string;
  headers: ReadonlyArray<readonly [string, string]>;
  /** `undefined`: headers only (HEAD). */
  payload: string | Buffer | undefined;
  closeConnection: boolean;
}

/**
 * The transport under one request: where the router reads the body and writes the answer. The
 * listening gateway uses uWS' response; `Router.inject` uses an in-memory one, so tests drive the
 * same validation, authentication and reply checks without a socket.
 */
export interface Exchange {
  /** The body, at most `limit` bytes (BODY_TOO_LARGE beyond; ClientAborted if the client leaves). */
  readBody(declaredLength: number | undefined, limit: number, onAbort: (listener: () => void) => void): Promise<Buffer>;
  /** Writes the whole answer; throws if the client is gone. */
  write(reply: ReplyWrite): void;
  /** Drops the connection without answering. */
  close(): void;
}

export function uwsExchange(res: HttpResponse): Exchange {
  return {
    readBody: (declaredLength, limit, onAbort) => readBody(res, declaredLength, limit, onAbort),
    write(reply) {
      res.cork(() => {
        res.writeStatus(reply.status);
        for (const [name, value] of reply.headers) res.writeHeader(name, value);
        // (This uWS build aborts the process when endWithoutBody is given a length: HEAD sets it as a header.)
        if (reply.payload === undefined) res.endWithoutBody();
        else res.end(reply.payload, reply.closeConnection);
      });
    },
    close: () => res.close(),
  };
}

/** What `Router.inject` answers: the status, headers (lower-case names) and body as written. */
export interface InjectedReply {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** The connection would have been dropped without an answer (ambiguous framing): status is 0. */
  dropped: boolean;
  /** The body parsed as JSON. */
  json<T = unknown>(): T;
}

/** An exchange held in memory: the body is given whole, the answer is recorded. */
export function memoryExchange(body: Buffer): Exchange & { reply(): Promise<InjectedReply> } {
  let settle: (reply: InjectedReply) => void;
  const done = new Promise<InjectedReply>((resolve) => (settle = resolve));
  const answer = (status: number, headers: Record<string, string>, text: string, dropped: boolean): void =>
    settle({ status, headers, body: text, dropped, json: <T>() => JSON.parse(text) as T });
  return {
    async readBody(declaredLength, limit) {
      if ((declaredLength ?? body.length) > limit || body.length > limit) throw new VigilError('BODY_TOO_LARGE', { limit });
      return body;
    },
    write(reply) {
      const headers: Record<string, string> = {};
      for (const [name, value] of reply.headers) headers[name.toLowerCase()] = value;
      const text =
        reply.payload === undefined ? '' : Buffer.isBuffer(reply.payload) ? reply.payload.toString('utf8') : reply.payload;
      answer(Number.parseInt(reply.status, 10), headers, text, false);
    },
    close: () => answer(0, {}, '', true),
    reply: () => done,
  };
}
