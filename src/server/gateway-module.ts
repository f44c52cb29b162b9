import type { Route } from './http/route.ts';
import type { TemplatedApp, WebSocket } from './uws.ts';

/** A concern plugged into the gateway: its routes, start-up work and what it releases on shutdown. */
export interface GatewayModule {
  name: string;
  routes?: Route[];
  /** Start-up work (indexes, subscriptions); runs before the listener opens. */
  start?(): Promise<void>;
  /** Releases queues, pools, subscriptions. Runs in reverse order of assembly. */
  close?(): Promise<void>;
  /** Mounts WebSocket endpoints (`app.ws`); called before the HTTP routes are mounted. */
  mountWs?(app: TemplatedApp, host: SocketHost): void;
}

/** What the gateway lends WebSocket endpoints. */
export interface SocketHost {
  /** Add every open socket, remove it on close: shutdown ends them all with 1001. */
  readonly sockets: Set<WebSocket<unknown>>;
  /** True once shutdown began: refuse new upgrades. */
  isDraining(): boolean;
}
