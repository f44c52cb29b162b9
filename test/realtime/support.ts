import { moduleOf } from '../support/modules.ts';
import WebSocket from 'ws';
import {
  STREAM_PATH,
  STREAM_SUBPROTOCOL,
  type ServerMessage,
  type ServerMessageOf,
  type ServerMessageType,
} from '../../protocol/messages.ts';
import type { Config } from '../../src/config/schema.ts';
import type { RealtimeChannel } from '../../src/realtime/realtime-channel.ts';
import type { TestGateway } from '../support/gateway.ts';
import { startNode, type Node } from '../sessions/support.ts';

export { startNode, type Node };

export interface Login {
  userId: string;
  sessionId: string;
  accessToken: string;
  refreshToken: string;
  expiresAt: number;
}

/**
 * Transport tests run the channel alone: continuous verification would refuse their
 * verification streams (their users have no model) and owns the channel's hooks.
 */
export const CHANNEL_ONLY = { VIGIL_CV_ENABLED: 'false' } as const;

let users = 0;

/** A real session (and token pair) made by a session core over the gateway's stores. */
export async function login(node: Node, userId = `user-${process.pid}-${++users}`): Promise<Login> {
  const { session, tokens } = await node.core.sessions.start({ userId, ip: '127.0.0.1', userAgent: 'realtime-test' });
  return {
    userId,
    sessionId: session.id,
    accessToken: tokens.accessToken,
    refreshToken: tokens.refreshToken,
    expiresAt: tokens.accessTokenExpiresAt,
  };
}

export interface Closed {
  code: number;
  reason: string;
}

/**
 * A raw `ws` client with an inbox: tests read server messages in order and wait for the close,
 * so every assertion is about what actually crossed the socket.
 */
export class TestSocket {
  readonly ws: WebSocket;
  readonly opened: Promise<void>;
  readonly closed: Promise<Closed>;
  readonly messages: ServerMessage[] = [];
  private waiters: Array<() => void> = [];
  private readIndex = 0;

  constructor(url: string, options: { token?: string; via?: 'header' | 'protocol'; protocols?: string[] } = {}) {
    const wsUrl = url.replace(/^http/, 'ws') + STREAM_PATH;
    const protocols = options.protocols ?? [STREAM_SUBPROTOCOL];
    const headers: Record<string, string> = {};
    if (options.token && (options.via ?? 'header') === 'header') headers.authorization = `Bearer ${options.token}`;
    if (options.token && options.via === 'protocol') protocols.push(`bearer.${options.token}`);
    this.ws = new WebSocket(wsUrl, protocols, { headers });
    this.ws.binaryType = 'arraybuffer';
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused with HTTP ${res.statusCode}`)));
      this.ws.once('error', reject);
    });
    this.opened.catch(() => {});
    this.closed = new Promise((resolve) => this.ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
    this.ws.on('message', (data, isBinary) => {
      if (isBinary) return;
      this.messages.push(JSON.parse((data as Buffer).toString()) as ServerMessage); // text frames arrive as a Buffer
      for (const wake of this.waiters.splice(0)) wake();
    });
    this.ws.on('close', () => {
      for (const wake of this.waiters.splice(0)) wake();
    });
  }

  /** The next unread message, which must be of `type` (skipping none). */
  async next<T extends ServerMessageType>(type: T, timeoutMs = 5_000): Promise<ServerMessageOf<T>> {
    const message = await this.read(timeoutMs);
    if (message.type !== type) throw new Error(`expected ${type}, got ${JSON.stringify(message)}`);
    return message as ServerMessageOf<T>;
  }

  /** Reads until a message of `type` arrives, skipping others. */
  async until<T extends ServerMessageType>(type: T, timeoutMs = 5_000): Promise<ServerMessageOf<T>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const message = await this.read(Math.max(1, deadline - Date.now()));
      if (message.type === type) return message as ServerMessageOf<T>;
    }
  }

  private async read(timeoutMs: number): Promise<ServerMessage> {
    const deadline = Date.now() + timeoutMs;
    while (this.readIndex >= this.messages.length) {
      if (this.ws.readyState === WebSocket.CLOSED) throw new Error(`socket closed; read ${JSON.stringify(this.messages)}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no message within ${timeoutMs} ms; read ${JSON.stringify(this.messages)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.messages[this.readIndex++]!;
  }

  sendJson(message: unknown): void {
    this.ws.send(JSON.stringify(message));
  }

  close(): void {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.terminate();
  }
}

/** Resolves with the close, or rejects if it does not come within `ms`. */
export function closedWithin(socket: TestSocket, ms: number): Promise<Closed> {
  return Promise.race([
    socket.closed,
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`socket still open after ${ms} ms`)), ms)),
  ]);
}

/** The channel of an in-process gateway, where hooks attach (as continuous verification does). */
export function channelOf(gw: TestGateway): RealtimeChannel {
  return moduleOf(gw, 'realtime').channel;
}

/** A ready socket with one verification stream open. */
export async function readySocket(
  url: string,
  token: string,
  stream?: { stream: number; channels: string[]; modality?: string },
): Promise<TestSocket> {
  const socket = new TestSocket(url, { token });
  await socket.next('ready');
  if (stream) socket.sendJson({ type: 'stream.open', rate: 50, ...stream });
  return socket;
}

export type { Config };
