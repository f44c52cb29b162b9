import { createServer, type Server, type Socket } from 'node:net';
import { freePort } from '../../support/services.ts';
import { bridge, viaPort } from './tcp-proxy.ts';

/** A command as the client put it on the wire: its name and the collection it names. */
export interface WireCommand {
  name: string;
  collection: string | undefined;
}

/** Where to cut: before the first command `before` accepts, once a reply `afterReply` accepts has passed. */
export interface CutPoint {
  before: (command: WireCommand) => boolean;
  afterReply?: (reply: Buffer) => boolean;
}

/**
 * A loopback proxy in front of a MongoDB-wire server that reads the messages both ways and can cut
 * the link right before a chosen command reaches the server: a fault placed at one step of a flow
 * (say, the first model read after the client saw its enrolment ready) instead of wherever a timer
 * happens to fall. After the cut every connection through it is dropped and new ones are refused
 * until `restore()`.
 */
export interface MongoCommandCut {
  /** The upstream URL with the proxy's port in place of the real one. */
  url(upstream: string): string;
  /** Every command clients sent through the proxy so far, in order. */
  readonly sent: readonly WireCommand[];
  /**
   * Holds the first later command `match` accepts (and whatever its connection sends after it) until
   * `release()`: a write the client believes is in flight. `held` resolves once it is held.
   */
  hold(match: (command: WireCommand) => boolean): { held: Promise<WireCommand>; release: () => void };
  /** Arms one cut; resolves with the command it was placed before. */
  cutBefore(point: CutPoint): Promise<WireCommand>;
  restore(): void;
  close(): Promise<void>;
}

const OP_MSG = 2013;

/** The first element of an OP_MSG body: the command name and, when it is a string, its collection. */
export function wireCommand(message: Buffer): WireCommand | undefined {
  if (message.length < 26 || message.readInt32LE(12) !== OP_MSG || message[20] !== 0) return undefined;
  // header (16) · flagBits (4) · section kind 0 (1) · BSON body: length (4), then its first element.
  const type = message[25];
  const nameEnd = message.indexOf(0, 26);
  if (nameEnd < 0) return undefined;
  const name = message.toString('utf8', 26, nameEnd);
  if (type !== 0x02) return { name, collection: undefined };
  const length = message.readInt32LE(nameEnd + 1);
  return { name, collection: message.toString('utf8', nameEnd + 5, nameEnd + 5 + length - 1) };
}

/** Splits a byte stream into whole wire messages (each starts with its int32 length). */
function messages(onMessage: (message: Buffer) => boolean): (chunk: Buffer) => void {
  let pending: Buffer = Buffer.alloc(0);
  return (chunk) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    while (pending.length >= 4 && pending.length >= pending.readInt32LE(0)) {
      const size = pending.readInt32LE(0);
      const message = pending.subarray(0, size);
      pending = pending.subarray(size);
      if (!onMessage(message)) return;
    }
  };
}

export async function startMongoCommandCut(target: { host: string; port: number }): Promise<MongoCommandCut> {
  const port = await freePort();
  const open = new Set<Socket>();
  let partitioned = false;
  const sent: WireCommand[] = [];
  let holding: { match: (command: WireCommand) => boolean; fire: (command: WireCommand) => void } | undefined;
  let released: Promise<void> | undefined;
  let armed: (CutPoint & { fire: (command: WireCommand) => void }) | undefined;
  const cut = () => {
    partitioned = true;
    for (const socket of open) socket.destroy();
    open.clear();
  };
  const server: Server = createServer((client) => {
    if (partitioned) {
      client.destroy();
      return;
    }
    const upstream = bridge(client, target, open);
    // Whole messages both ways, so a command can be held back and the link cut before it.
    upstream.on(
      'data',
      messages((reply) => {
        if (armed?.afterReply?.(reply)) armed.afterReply = undefined;
        client.write(reply);
        return true;
      }),
    );
    let behind: Promise<void> | undefined;
    client.on(
      'data',
      messages((message) => {
        const command = wireCommand(message);
        if (command) sent.push(command);
        if (holding && command && holding.match(command)) {
          holding.fire(command);
          holding = undefined;
          behind = released;
        }
        if (behind) {
          // Order on the connection is kept: what follows a held command waits with it.
          behind = behind.then(() => void upstream.write(message));
          return true;
        }
        if (armed && !armed.afterReply && command && armed.before(command)) {
          const { fire } = armed;
          armed = undefined;
          cut();
          fire(command);
          return false;
        }
        upstream.write(message);
        return true;
      }),
    );
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    sent,
    url: (upstream) => viaPort(upstream, port),
    hold(match) {
      let release = () => {};
      released = new Promise<void>((resolve) => (release = resolve));
      const held = new Promise<WireCommand>((resolve) => {
        holding = { match, fire: resolve };
      });
      return { held, release: () => release() };
    },
    cutBefore(point) {
      return new Promise((resolve) => {
        armed = { ...point, fire: resolve };
      });
    },
    restore() {
      partitioned = false;
    },
    async close() {
      cut();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** True when a wire message holds the BSON string element `name: value` anywhere (a reply's documents, say). */
export function holdsString(message: Buffer, name: string, value: string): boolean {
  const length = Buffer.alloc(4);
  length.writeInt32LE(Buffer.byteLength(value) + 1);
  const element = Buffer.concat([Buffer.from([0x02]), Buffer.from(`${name}\0`), length, Buffer.from(`${value}\0`)]);
  return message.includes(element);
}
