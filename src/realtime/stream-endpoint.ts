import { STATUS_CODES } from 'node:http';
import { VigilError, errorBody } from '../../protocol/errors.ts';
import { STREAM_PATH } from '../../protocol/messages.ts';
import type { Logger } from '../observability/logger.ts';
import type { SocketHost } from '../server/gateway-module.ts';
import { uws, type HttpResponse, type TemplatedApp } from '../server/uws.ts';
import { toVigilError } from '../storage/dependency-errors.ts';
import { rateLimited } from '../rate-limits/enforce-limit.ts';
import type { RealtimeChannel } from './realtime-channel.ts';
import type { RealtimeMetrics } from './realtime-metrics.ts';
import { upgradeCredentials } from './stream-auth.ts';
import type { SocketData, StreamConnection } from './stream-connection.ts';
import type { ClientAddressResolver } from '../server/http/client-address.ts';
import { PendingSockets } from './pending-sockets.ts';

export interface EndpointOptions {
  maxMessageBytes: number;
  maxBackpressure: number;
  idleTimeoutSeconds: number;
  clientAddress: ClientAddressResolver;
  /** Sockets a client address may hold open before authenticating. */
  maxPendingPerClient: number;
  authTimeoutMs: number;
  metrics: RealtimeMetrics;
  logger: Logger;
}

/**
 * Mounts `GET /v1/stream` on uWS: the transport glue between uWS callbacks and the channel.
 *
 * uWS' own limits sit above ours on purpose. It drops a socket without a close frame (the
 * client sees 1006, "reconnect") when a message exceeds maxPayloadLength or the queue exceeds
 * maxBackpressure; our checks fire first, at the configured values, and close with the
 * catalogued code (1009, 3003) so the client learns why. uWS' limits stay as a hard ceiling.
 */
export function mountStreamEndpoint(
  app: TemplatedApp,
  channel: RealtimeChannel,
  host: SocketHost,
  options: EndpointOptions,
): void {
  const { metrics, logger } = options;
  const pending = new PendingSockets(options.maxPendingPerClient);
  /** Connections counted in `pending`, with the address they were counted under. */
  const pendingFrom = new WeakMap<StreamConnection, string>();
  const settle = (conn: StreamConnection) => {
    const ip = pendingFrom.get(conn);
    if (ip !== undefined && conn.phase !== 'awaiting-auth' && conn.phase !== 'upgrading') {
      pendingFrom.delete(conn);
      pending.release(ip);
    }
  };

  app.ws<SocketData>(STREAM_PATH, {
    compression: uws.DISABLED,
    maxPayloadLength: options.maxMessageBytes * 2,
    maxBackpressure: options.maxBackpressure + 64 * 1024,
    // A safety net above our own limit (1 = on; the typings declare a number).
    closeOnBackpressureLimit: 1,
    idleTimeout: options.idleTimeoutSeconds,
    sendPingsAutomatically: true,

    upgrade: (res, req, context) => {
      // Everything from req now: it is invalid after this callback returns.
      const key = req.getHeader('sec-websocket-key');
      const protocols = req.getHeader('sec-websocket-protocol');
      const extensions = req.getHeader('sec-websocket-extensions');
      const authorization = req.getHeader('authorization');
      const forwarded = req.getHeader('x-forwarded-for');
      const ip = options.clientAddress.resolve(Buffer.from(res.getRemoteAddressAsText()).toString(), forwarded || undefined);
      let aborted = false;
      res.onAborted(() => {
        aborted = true;
      });

      if (host.isDraining()) return refuse(res, new VigilError('SHUTTING_DOWN'));
      const { token, protocol } = upgradeCredentials(authorization, protocols);
      if (!token && !pending.admit(ip)) {
        const retryAfter = Math.ceil(options.authTimeoutMs / 1000);
        return refuse(res, rateLimited(retryAfter));
      }
      const conn = channel.createConnection(ip);
      if (!token) {
        // Authentication comes as the first message; the channel times it out.
        pendingFrom.set(conn, ip);
        metrics.upgrades.inc({ outcome: 'deferred' });
        res.upgrade<SocketData>({ conn }, key, protocol, extensions, context);
        return;
      }
      channel
        .authenticate(conn, token)
        .then(
          () => 'authenticated' as const,
          (err: unknown) => {
            const error = toVigilError(err);
            if (error.status >= 500) logger.error({ err: error.cause ?? error }, 'socket authentication failed');
            // Upgrade anyway and close with the code: browsers cannot read a refused upgrade's status.
            conn.rejection = error;
            return 'rejected' as const;
          },
        )
        .then((outcome) => {
          if (aborted || host.isDraining()) {
            metrics.upgrades.inc({ outcome: 'aborted' });
            channel.abandon(conn);
            if (!aborted) refuse(res, new VigilError('SHUTTING_DOWN'));
            return;
          }
          metrics.upgrades.inc({ outcome });
          res.cork(() => res.upgrade<SocketData>({ conn }, key, protocol, extensions, context));
        })
        .catch((err: unknown) => logger.error({ err }, 'socket upgrade failed'));
    },

    open: (ws) => {
      const { conn } = ws.getUserData();
      conn.ws = ws;
      host.sockets.add(ws);
      guard(conn, () => channel.opened(conn));
    },

    message: (ws, message, isBinary) => {
      const { conn } = ws.getUserData();
      guard(conn, () => channel.received(conn, message, isBinary));
      settle(conn);
    },

    drain: (ws) => {
      const { conn } = ws.getUserData();
      guard(conn, () => channel.drained(conn));
    },

    close: (ws, code) => {
      host.sockets.delete(ws);
      const { conn } = ws.getUserData();
      const ip = pendingFrom.get(conn);
      if (ip !== undefined) {
        pendingFrom.delete(conn);
        pending.release(ip);
      }
      try {
        channel.closed(conn, code);
      } catch (err) {
        logger.error({ err, connection: conn.id }, 'socket close handler failed');
      }
    },
  });

  /** An exception in a uWS callback would reach the process; it closes the one socket instead. */
  function guard(conn: StreamConnection, run: () => void): void {
    try {
      run();
    } catch (err) {
      logger.error({ err, connection: conn.id }, 'socket handler failed');
      conn.close('INTERNAL');
    }
  }
}

function refuse(res: HttpResponse, error: VigilError): void {
  res.cork(() => {
    res.writeStatus(`${error.status} ${STATUS_CODES[error.status] ?? ''}`);
    res.writeHeader('content-type', 'application/json; charset=utf-8');
    res.end(JSON.stringify(errorBody(error)), true);
  });
}
