import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { VerdictDecisionSchema } from './biometrics.ts';
import { ERRORS, type VigilError } from './errors.ts';
import { AuthenticationResponse } from './webauthn.ts';

/**
 * Control messages of the realtime channel (`GET /v1/stream`): JSON text messages, each an
 * object whose `type` names its schema. Sample data travels as binary frames (frames.ts); the
 * `samples` message is their JSON form for simple clients. protocol/README.md is the spec.
 */

export { BEARER_SUBPROTOCOL_PREFIX, STREAM_PATH, STREAM_SUBPROTOCOL } from './stream-handshake.ts';

const Token = Type.String({ minLength: 1, maxLength: 8192, description: 'An access token (JWT)' });
const StreamId = Type.Integer({ minimum: 0, maximum: 0xffff, description: 'Stream id, as in the frame header' });
const ChannelName = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_.:-]+$' });
const Channels = Type.Array(ChannelName, { minItems: 1, maxItems: 64, description: 'Channel names, in frame order' });
const Rate = Type.Number({ exclusiveMinimum: 0, maximum: 10_000, description: 'Sample rate, Hz' });
const Modality = Type.String({ minLength: 1, maxLength: 64, description: 'e.g. accelerometer, ppg, keystroke' });
const EpochSeconds = Type.Integer({ minimum: 0, description: 'Seconds since the Unix epoch' });
const EpochMs = Type.Number({ minimum: 0, description: 'Milliseconds since the Unix epoch' });
const ErrorCodeSchema = Type.Union(
  Object.keys(ERRORS).map((code) => Type.Literal(code)),
  { description: 'A code of the error catalogue (protocol/errors.ts)' },
);

function message<T extends string, P extends Record<string, TSchema>>(type: T, properties: P, description: string) {
  return Type.Object({ type: Type.Literal(type), ...properties }, { additionalProperties: false, description });
}

// ── client → server ─────────────────────────────────────────────────────────

export const AuthMessage = message(
  'auth',
  { token: Token },
  'First message of a socket opened without a token; within VIGIL_WS_AUTH_TIMEOUT_MS.',
);
export const RefreshMessage = message(
  'refresh',
  { token: Token },
  'A new access token of the same session; the socket stays open past the old one’s expiry. Answered by `refreshed` or `error`.',
);
export const StreamOpenMessage = message(
  'stream.open',
  { stream: StreamId, rate: Rate, channels: Channels, modality: Type.Optional(Modality) },
  'Declares a sample stream for verification; frames of an undeclared stream close the socket (3501).',
);
export const StreamCloseMessage = message('stream.close', { stream: StreamId }, 'Ends a stream; its id may be opened again.');
export const SamplesMessage = message(
  'samples',
  {
    stream: StreamId,
    seq: Type.Integer({ minimum: 0, maximum: 0xffffffff }),
    t: Type.Number({ minimum: 0, description: 'First sample, ms since the Unix epoch' }),
    samples: Type.Array(Type.Array(Type.Number(), { minItems: 1, maxItems: 64 }), {
      minItems: 1,
      maxItems: 0xffff,
      description: 'One inner array per sample, one value per channel',
    }),
    ack: Type.Optional(Type.Boolean({ description: 'Ask for an `ack`, as the frame flag does' })),
  },
  'The JSON form of one binary sample frame, for clients that cannot build binary messages.',
);
/** A re-authentication sent with a model change: exactly one of the two. */
const Reauth = Type.Object(
  {
    password: Type.Optional(Type.String({ minLength: 1, maxLength: 1024, description: 'The account’s current password' })),
    code: Type.Optional(Type.String({ pattern: '^[0-9]{6}$', description: 'A code of the account’s authenticator app' })),
  },
  { additionalProperties: false },
);

export const EnrollBeginMessage = message(
  'enroll.begin',
  { stream: StreamId, modality: Modality, rate: Rate, channels: Channels, reauth: Type.Optional(Reauth) },
  'Opens a stream whose samples enrol a new model instead of being verified. Replacing an existing model needs `reauth` (exactly one of `password` or `code`) unless the session read genuine under it lately; refused with BIOMETRIC_REAUTH_REQUIRED at once.',
);
export const EnrollCommitMessage = message(
  'enroll.commit',
  { stream: StreamId },
  'Ends an enrolment stream and queues training.',
);
export const EnrollCancelMessage = message('enroll.cancel', { stream: StreamId }, 'Discards an enrolment stream.');
export const StepUpMessage = message(
  'stepup',
  {
    token: Type.Optional(Token),
    code: Type.Optional(
      Type.String({ pattern: '^[0-9]{6}$', description: 'An authenticator-app code shown after the step-up was asked for' }),
    ),
    passkey: Type.Optional(AuthenticationResponse),
  },
  'Answers `stepup.required` with exactly one proof: `token`, an access token from a login made after the step-up was asked for; `code`, a code of the account’s authenticator app; or `passkey`, an assertion (PublicKeyCredential.toJSON()) over the `passkey.options` of that `stepup.required`. Answered by `stepup.passed` or `error` (ref `stepup`).',
);
export const ClientByeMessage = message(
  'bye',
  { reason: Type.Optional(Type.String({ maxLength: 120 })) },
  'The client is leaving; the server closes with 1000.',
);

export const ClientMessageSchema = Type.Union(
  [
    AuthMessage,
    RefreshMessage,
    StreamOpenMessage,
    StreamCloseMessage,
    SamplesMessage,
    EnrollBeginMessage,
    EnrollCommitMessage,
    EnrollCancelMessage,
    StepUpMessage,
    ClientByeMessage,
  ],
  { $id: 'StreamClientMessage' },
);
export type ClientMessage = Static<typeof ClientMessageSchema>;
export type ClientMessageType = ClientMessage['type'];
export type ClientMessageOf<T extends ClientMessageType> = Extract<ClientMessage, { type: T }>;

// ── server → client ─────────────────────────────────────────────────────────

export const StreamLimitsSchema = Type.Object({
  maxMessageBytes: Type.Integer(),
  maxMessagesPerSecond: Type.Integer(),
  maxStreams: Type.Integer(),
  maxChannels: Type.Integer(),
  idleTimeoutSeconds: Type.Integer(),
  expiryWarningSeconds: Type.Integer(),
});
export type StreamLimits = Static<typeof StreamLimitsSchema>;

export const ReadyModelSchema = Type.Object(
  {
    version: Type.Integer({ minimum: 1 }),
    modality: Modality,
    channels: Channels,
    rate: Type.Number({ minimum: 0 }),
    window: Type.Number({ minimum: 0, description: 'Window length, s' }),
    hop: Type.Number({ minimum: 0, description: 'Window hop, s' }),
  },
  { description: 'The model that verifies this user’s streams' },
);
export type ReadyModel = Static<typeof ReadyModelSchema>;

export const ReadyMessage = message(
  'ready',
  {
    protocol: Type.Literal(1),
    connectionId: Type.String(),
    sessionId: Type.String(),
    userId: Type.String(),
    serverTime: EpochMs,
    expiresAt: EpochSeconds,
    limits: StreamLimitsSchema,
    model: Type.Union([ReadyModelSchema, Type.Null()], { description: 'null: no model yet; streams can only enrol' }),
  },
  'Sent once the socket is authenticated; nothing but `auth` is accepted before it.',
);
export const RefreshedMessage = message('refreshed', { expiresAt: EpochSeconds }, 'The in-band refresh was accepted.');
export const ExpiringMessage = message(
  'expiring',
  { expiresAt: EpochSeconds, secondsLeft: Type.Integer({ minimum: 0 }) },
  'The access token expires soon; send `refresh` or the socket closes with TOKEN_EXPIRED.',
);
export const AckMessage = message(
  'ack',
  {
    stream: StreamId,
    seq: Type.Integer({ minimum: 0, description: 'Highest sequence number accepted on this stream' }),
    frames: Type.Integer({ minimum: 0, description: 'Frames accepted on this stream so far' }),
    gaps: Type.Integer({ minimum: 0, description: 'Frames missing so far (sequence numbers skipped)' }),
    duplicates: Type.Integer({ minimum: 0, description: 'Frames dropped so far as repeated or out of order' }),
  },
  'Answers a frame with the ack flag, and any frame that reveals a gap or a duplicate. Counters are cumulative.',
);
export const ErrorMessage = message(
  'error',
  {
    code: ErrorCodeSchema,
    message: Type.String(),
    details: Type.Optional(Type.Array(Type.Object({ field: Type.String(), message: Type.String() }))),
    ref: Type.Optional(Type.String({ description: 'The `type` of the client message this answers' })),
    stream: Type.Optional(StreamId),
  },
  'A refused request; the socket stays open.',
);
export const VerdictMessage = message(
  'verdict',
  {
    stream: StreamId,
    window: Type.Integer({ minimum: 0 }),
    score: Type.Number(),
    trust: Type.Number(),
    decision: VerdictDecisionSchema,
    modelVersion: Type.Integer({ minimum: 1 }),
    latencyMs: Type.Number({ minimum: 0, description: 'From the window’s last sample arriving to this message' }),
  },
  'The trust decision after one scored window.',
);
export const EnrollProgressMessage = message(
  'enroll.progress',
  {
    stream: StreamId,
    stage: Type.Union([Type.Literal('collecting'), Type.Literal('queued'), Type.Literal('training')]),
    progress: Type.Number({ minimum: 0, maximum: 1 }),
    windows: Type.Optional(Type.Integer({ minimum: 0 })),
  },
  'Enrolment progress.',
);
export const EnrollReadyMessage = message(
  'enroll.ready',
  { stream: StreamId, modelVersion: Type.Integer({ minimum: 1 }), model: ReadyModelSchema },
  'The enrolled model is trained and verifies this socket’s streams from now on.',
);
export const EnrollFailedMessage = message(
  'enroll.failed',
  { stream: StreamId, code: ErrorCodeSchema, message: Type.String() },
  'Enrolment ended without a model.',
);
/** Why a step-up is asked for. */
export const StepUpReasonSchema = Type.Union([Type.Literal('uncertain'), Type.Literal('impostor'), Type.Literal('silent')], {
  description:
    'What asked for it: the session entering `uncertain` or `impostor` (a replayed recording counts as `impostor`), or `silent`: no window of the session was scored for VIGIL_CV_EVIDENCE_MAX_GAP_SECONDS (docs/biometrics.md, "Evidence must stay fresh")',
});
export type StepUpReason = Static<typeof StepUpReasonSchema>;
export const StepUpRequiredMessage = message(
  'stepup.required',
  {
    reason: StepUpReasonSchema,
    stream: Type.Optional(StreamId),
    trust: Type.Number(),
    deadline: Type.Number({
      minimum: 0,
      description: 'Prove by then (ms since the epoch), or the socket closes with STREAM_STEPUP_TIMEOUT',
    }),
    timeoutSeconds: Type.Integer({ minimum: 1 }),
    methods: Type.Array(
      Type.Union([Type.Literal('password'), Type.Literal('code'), Type.Literal('totp'), Type.Literal('passkey')]),
      {
        description:
          'What the account can prove with: `password`/`code` by a fresh login (its token in `stepup`), `totp` by a code in `stepup`, `passkey` by an assertion over `passkey.options` in `stepup`',
      },
    ),
    passkey: Type.Optional(
      Type.Object(
        {
          options: Type.Object({ challenge: Type.String() }, { additionalProperties: true }),
          expiresIn: Type.Integer({ description: 'Seconds the challenge lives (single use)' }),
        },
        { description: 'When `passkey` is listed: options for navigator.credentials.get(), bound to this step-up' },
      ),
    ),
  },
  'Continuous verification wants the holder to prove who they are: log in again, then send `stepup` with the new access token.',
);
export const StepUpPassedMessage = message(
  'stepup.passed',
  { trust: Type.Number({ description: 'Every verification stream restarts from this trust' }) },
  'The step-up proof was accepted (on this socket, or on another of the session once this one’s deadline came); the proof session has been ended, this socket keeps its own.',
);
export const ModelChangedMessage = message(
  'model',
  { model: Type.Union([ReadyModelSchema, Type.Null()]) },
  'The model verifying this socket changed (a new version became ready, or every version was deleted); open streams use it from their next window.',
);
export const ServerByeMessage = message(
  'bye',
  { code: ErrorCodeSchema, close: Type.Integer(), message: Type.String() },
  'The server is about to close the socket with close code `close`.',
);

export const ServerMessageSchema = Type.Union(
  [
    ReadyMessage,
    RefreshedMessage,
    ExpiringMessage,
    AckMessage,
    ErrorMessage,
    VerdictMessage,
    EnrollProgressMessage,
    EnrollReadyMessage,
    EnrollFailedMessage,
    StepUpRequiredMessage,
    StepUpPassedMessage,
    ModelChangedMessage,
    ServerByeMessage,
  ],
  { $id: 'StreamServerMessage' },
);
export type ServerMessage = Static<typeof ServerMessageSchema>;
export type ServerMessageType = ServerMessage['type'];
export type ServerMessageOf<T extends ServerMessageType> = Extract<ServerMessage, { type: T }>;

/** Schemas by `type`, so a receiver checks one object schema instead of a ten-way union. */
export const CLIENT_MESSAGES: { readonly [T in ClientMessageType]: TSchema } = {
  auth: AuthMessage,
  refresh: RefreshMessage,
  'stream.open': StreamOpenMessage,
  'stream.close': StreamCloseMessage,
  samples: SamplesMessage,
  'enroll.begin': EnrollBeginMessage,
  'enroll.commit': EnrollCommitMessage,
  'enroll.cancel': EnrollCancelMessage,
  stepup: StepUpMessage,
  bye: ClientByeMessage,
};

export const SERVER_MESSAGES: { readonly [T in ServerMessageType]: TSchema } = {
  ready: ReadyMessage,
  refreshed: RefreshedMessage,
  expiring: ExpiringMessage,
  ack: AckMessage,
  error: ErrorMessage,
  verdict: VerdictMessage,
  'enroll.progress': EnrollProgressMessage,
  'enroll.ready': EnrollReadyMessage,
  'enroll.failed': EnrollFailedMessage,
  'stepup.required': StepUpRequiredMessage,
  'stepup.passed': StepUpPassedMessage,
  model: ModelChangedMessage,
  bye: ServerByeMessage,
};

/** The `error` message refusing client message `ref` (of stream `stream`) with a catalogued error; the socket stays open. */
export function errorMessage(error: VigilError, ref: string, stream?: number): ServerMessageOf<'error'> {
  const message: ServerMessageOf<'error'> = { type: 'error', code: error.code, message: error.message, ref };
  if (stream !== undefined) message.stream = stream;
  return message;
}
