export { StreamClient, SampleStream, streamUrl } from './stream-client.ts';
export type {
  ClientState,
  EnrolReauth,
  SendOptions,
  StreamClientEvents,
  StreamClientOptions,
  StreamOptions,
  WebSocketConstructor,
  WebSocketLike,
} from './stream-client.ts';
export { backoffDelay, BACKOFF_DEFAULTS, type BackoffOptions } from './backoff.ts';
export { refreshingTokenSource, jwtTimes, type TokenPair, type TokenSourceOptions } from './token-source.ts';
export { isReconnectWorthy } from '../errors.ts';
export * from '../frames.ts';
export type * from '../messages.ts';
export * from '../stream-handshake.ts';
export {
  SecondFactorClient,
  VigilRequestError,
  browserPasskeys,
  passkeyStepUp,
  totpStepUp,
  type LoginReply,
  type MfaChallenge,
  type PasskeyAuthenticator,
  type PasskeyOptions,
  type PasskeyView,
  type SecondFactorClientOptions,
} from './second-factors.ts';
