import { collectDefaultMetrics, Registry } from 'prom-client';
import { decodeFrame } from '../../protocol/frames.ts';
import { STREAM_PATH, STREAM_SUBPROTOCOL } from '../../protocol/stream-handshake.ts';
import { uws } from '../../src/server/uws.ts';

/**
 * The baseline of `npm run load -- --baseline`: bare uWebSockets.js on the same path, with the
 * same frame codec and the same `ready` / `ack` messages, but no authentication, quota, limits,
 * sequence bookkeeping or hooks. Vigil's figures minus these are the cost of the channel itself.
 * Prints `listening <port>` on stdout.
 */
const registry = new Registry();
collectDefaultMetrics({ register: registry, prefix: 'vigil_' });
let open = 0;
let connections = 0;

interface Data {
  id: number;
  frames: number;
}

const app = uws.App();
app.ws<Data>(STREAM_PATH, {
  compression: uws.DISABLED,
  maxPayloadLength: 128 * 1024,
  idleTimeout: 60,
  sendPingsAutomatically: true,
  upgrade: (res, req, context) => {
    const protocols = req.getHeader('sec-websocket-protocol');
    res.upgrade<Data>(
      { id: ++connections, frames: 0 },
      req.getHeader('sec-websocket-key'),
      protocols.includes(STREAM_SUBPROTOCOL) ? STREAM_SUBPROTOCOL : '',
      req.getHeader('sec-websocket-extensions'),
      context,
    );
  },
  open: (ws) => {
    open++;
    const now = Date.now();
    ws.send(
      JSON.stringify({
        type: 'ready',
        protocol: 1,
        connectionId: String(ws.getUserData().id),
        sessionId: 'baseline',
        userId: 'baseline',
        serverTime: now,
        expiresAt: Math.floor(now / 1000) + 86_400,
        limits: {
          maxMessageBytes: 65_536,
          maxMessagesPerSecond: 100,
          maxStreams: 8,
          maxChannels: 64,
          idleTimeoutSeconds: 60,
          expiryWarningSeconds: 0,
        },
        model: null,
      }),
    );
  },
  message: (ws, message, isBinary) => {
    if (!isBinary) return;
    const decoded = decodeFrame(message);
    if (!decoded.ok) return void ws.end(3501, 'STREAM_FRAME_MALFORMED');
    const data = ws.getUserData();
    data.frames++;
    if (decoded.frame.ackRequested) {
      ws.send(
        JSON.stringify({
          type: 'ack',
          stream: decoded.frame.stream,
          seq: decoded.frame.seq,
          frames: data.frames,
          gaps: 0,
          duplicates: 0,
        }),
      );
    }
  },
  close: () => {
    open--;
  },
});
app.get('/metrics', (res) => {
  let aborted = false;
  res.onAborted(() => {
    aborted = true;
  });
  void registry.metrics().then((text) => {
    if (aborted) return;
    res.cork(() => res.writeHeader('content-type', 'text/plain').end(`${text}vigil_ws_connections{phase="ready"} ${open}\n`));
  });
});
app.listen('127.0.0.1', 0, (socket) => {
  if (!socket) throw new Error('baseline server could not listen');
  process.stdout.write(`listening ${uws.us_socket_local_port(socket)}\n`);
});
process.on('SIGTERM', () => process.exit(0));
