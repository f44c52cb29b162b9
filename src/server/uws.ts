import { createRequire } from 'node:module';
import type * as UwsTypes from 'uWebSockets.js';

export type Uws = typeof UwsTypes;
export type { HttpRequest, HttpResponse, TemplatedApp, WebSocket, us_listen_socket } from 'uWebSockets.js';

/**
 * Loads uWebSockets.js' native binary directly. The package's own entry point silently falls
 * back to a slow `ws`-based shim when the binary does not match this Node; a gateway running on
 * that shim would meet none of its performance targets, so we refuse to start instead.
 */
export function loadNativeUws(): Uws {
  const require = createRequire(import.meta.url);
  const abi = process.versions.modules;
  const binary = `uWebSockets.js/binaries/uws_${process.platform}_${process.arch}_${abi}.node`;
  try {
    return require(binary) as Uws;
  } catch (err) {
    throw new Error(
      `uWebSockets.js has no native binary for Node ${process.version} (ABI ${abi}, ${process.platform}-${process.arch}); ` +
        `refusing to start on its slow JS fallback. Use Node 20 (see .nvmrc).`,
      { cause: err },
    );
  }
}

export const uws: Uws = loadNativeUws();
