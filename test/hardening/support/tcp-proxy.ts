import { connect, createServer, type Server, type Socket } from 'node:net';
import { freePort } from '../../support/services.ts';

/**
 * A loopback TCP proxy a test can cut: `cut()` drops every connection through it and refuses new
 * ones (a network partition between one gateway and Redis, while other processes still reach
 * Redis directly); `restore()` lets connections through again.
 */
export interface TcpProxy {
  port: number;
  /** The upstream URL with the proxy's port in place of the real one. */
  url(upstream: string): string;
  cut(): void;
  restore(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const port = await freePort();
  const open = new Set<Socket>();
  let partitioned = false;
  const server: Server = createServer((client) => {
    if (partitioned) {
      client.destroy();
      return;
    }
    const upstream = bridge(client, target, open);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const cut = () => {
    partitioned = true;
    for (const socket of open) socket.destroy();
    open.clear();
  };
  return {
    port,
    url: (upstream) => viaPort(upstream, port),
    cut,
    restore() {
      partitioned = false;
    },
    async close() {
      cut();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * Connects an accepted client to `target`: both sockets are tracked in `open` (so a cut can destroy
 * them) and each goes when the other does. Returns the upstream socket; moving bytes is the caller's.
 */
/** `upstream` (a service URL) with its port replaced by a proxy's. */
export function viaPort(upstream: string, port: number): string {
  const u = new URL(upstream);
  u.port = String(port);
  return u.toString();
}

export function bridge(client: Socket, target: { host: string; port: number }, open: Set<Socket>): Socket {
  const upstream = connect(target.port, target.host);
  open.add(client);
  open.add(upstream);
  const drop = () => {
    client.destroy();
    upstream.destroy();
    open.delete(client);
    open.delete(upstream);
  };
  client.on('error', drop).on('close', drop);
  upstream.on('error', drop).on('close', drop);
  return upstream;
}
