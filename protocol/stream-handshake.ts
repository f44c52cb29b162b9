/**
 * How a client reaches the realtime channel. Kept apart from the message schemas so the client
 * SDK can import it without pulling TypeBox into a browser bundle.
 */

export const STREAM_PATH = '/v1/stream';
/** Offer this subprotocol; the server selects it. A bearer subprotocol is never echoed back. */
export const STREAM_SUBPROTOCOL = 'vigil.v1';
/** Browsers cannot set headers on a WebSocket: they offer `bearer.<access token>` as a subprotocol. */
export const BEARER_SUBPROTOCOL_PREFIX = 'bearer.';
