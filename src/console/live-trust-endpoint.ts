import { STATUS_CODES } from 'node:http';
import { VigilError, errorBody } from '../../protocol/errors.ts';
import type { Logger } from '../observability/logger.ts';
import type { AdminPrincipal } from '../server/admin-auth.ts';
import type { Authenticator, RequestInfo } from '../server/http/route.ts';
import { ambiguousFraming } from '../server/http/router.ts';
import type { HttpResponse, TemplatedApp } from '../server/uws.ts';
import type { TrustFeed } from './trust-feed.ts';

export const LIVE_TRUST_PATH = '/v1/admin/accounts/:id/trust';
/** Keeps proxies from closing a quiet stream, and finds clients that left. */
const KEEPALIVE_MS = 15_000;
const MAX_WATCHERS = 32;

interface Watch {
  aborted: boolean;
  stop: undefined | (() => Promise<void>);
  keepalive: NodeJS.Timeout | undefined;
}

/**
 * GET /v1/admin/accounts/:id/trust: a text/event-stream of the account's trust points (one
 * `trust` event per scored window, from every gateway process) while the admin client reads it.
 * Served beside the router because its answer never ends; browsers read it with fetch() so the
 * admin credential travels in the Authorization header, never in a URL.
 */
export class LiveTrustEndpoint {
  private readonly open = new Map<HttpResponse, Watch>();
  private closing = false;

  constructor(
    private readonly feed: TrustFeed,
    private readonly admin: Authenticator<AdminPrincipal>,
    private readonly logger: Logger,
  ) {}

  mount(app: TemplatedApp): void {
    app.get(LIVE_TRUST_PATH, (res, req) => {
      // Same rule as the router: uWS reads on after an answer, so ambiguous framing closes at once.
      const framing: Record<string, string> = {};
      req.forEach((name, value) => {
        if (name === 'content-length' || name === 'transfer-encoding')
          framing[name] = name in framing ? `${framing[name]}, ${value}` : value;
      });
      if (ambiguousFraming(framing)) {
        res.close();
        return;
      }
      const userId = req.getParameter(0) ?? '';
      const authorization = req.getHeader('authorization');
      const state: Watch = { aborted: false, stop: undefined, keepalive: undefined };
      res.onAborted(() => {
        state.aborted = true;
        this.release(res, state);
      });
      void this.serve(res, userId, authorization, state); // never rejects: a refusal is written as the reply
    });
  }

  private async serve(res: HttpResponse, userId: string, authorization: string, state: Watch): Promise<void> {
    // Points that arrive before the 200 is written are dropped (the curve starts with the next one).
    let ready = false;
    const send = (chunk: string) => {
      if (state.aborted || !ready) return;
      res.cork(() => res.write(chunk));
    };
    try {
      await this.admin.authenticate({ headers: { authorization } } as unknown as RequestInfo);
      if (this.closing) throw new VigilError('SHUTTING_DOWN');
      if (this.open.size >= MAX_WATCHERS) throw new VigilError('RATE_LIMITED', { retryAfter: 5 });
      if (!/^[A-Za-z0-9-]{1,64}$/.test(userId)) throw new VigilError('NOT_FOUND', { what: 'Account' });
      state.stop = await this.feed.watch(userId, (point) => send(`event: trust\ndata: ${JSON.stringify(point)}\n\n`));
    } catch (err) {
      if (state.aborted) return;
      // Redis unreachable: say so now rather than hold a stream that will never carry a point.
      const error = err instanceof VigilError ? err : new VigilError('DEPENDENCY_UNAVAILABLE', { dependency: 'redis' });
      res.cork(() => {
        res.writeStatus(`${error.status} ${STATUS_CODES[error.status] ?? ''}`);
        res.writeHeader('content-type', 'application/json; charset=utf-8');
        if (error.code === 'RATE_LIMITED') res.writeHeader('retry-after', '5');
        res.end(JSON.stringify(errorBody(error)));
      });
      return;
    }
    if (state.aborted) return this.release(res, state);
    this.open.set(res, state);
    res.cork(() => {
      res.writeStatus('200 OK');
      res.writeHeader('content-type', 'text/event-stream; charset=utf-8');
      res.writeHeader('cache-control', 'no-store');
      res.writeHeader('x-content-type-options', 'nosniff');
      res.write(': watching\n\n');
    });
    ready = true;
    state.keepalive = setInterval(() => send(': keepalive\n\n'), KEEPALIVE_MS);
  }

  private release(res: HttpResponse, state: Watch): void {
    this.open.delete(res);
    clearInterval(state.keepalive);
    state.stop?.().catch((err: unknown) => this.logger.debug({ err }, 'trust feed unwatch failed'));
    state.stop = undefined;
  }

  /** Ends every open stream (shutdown). */
  close(): void {
    this.closing = true;
    for (const [res, state] of [...this.open]) {
      this.release(res, state);
      state.aborted = true;
      try {
        res.cork(() => res.end());
      } catch {
        // the client left meanwhile
      }
    }
  }
}
