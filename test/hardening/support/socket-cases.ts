import fc from 'fast-check';
import { FRAME_HEADER_BYTES, encodeFrame } from '../../../protocol/frames.ts';
import { CLIENT_MESSAGES } from '../../../protocol/messages.ts';
import { abusiveJsonText, jsonBytes } from './body-text.ts';
import { forgedJwt, hostileValue, withOwn } from './hostile-values.ts';
import { fuzzValue, validValue, type JsonSchema } from './schema-arbitrary.ts';

/**
 * Socket sessions for the realtime channel fuzzer: how the socket authenticates, then a script of
 * control messages (from the schemas in protocol/messages.ts, so a new message type is fuzzed the
 * day it lands) and binary frames (valid for an open stream, damaged, or noise).
 */

export type SocketAction =
  | { kind: 'control'; type: string; value: unknown; plantToken: boolean }
  | { kind: 'text'; text: Buffer }
  /** `onOpen`: for the stream the case opened (its id and channel count), so it gets past the checks. */
  | { kind: 'frame'; onOpen: boolean; stream: number; channels: number; count: number; seq: number; int16: boolean; ack: boolean }
  | { kind: 'damaged-frame'; stream: number; channels: number; count: number; at: number; byte: number; cut: number }
  | { kind: 'noise'; bytes: Uint8Array };

export interface SocketCase {
  auth: 'header' | 'protocol' | 'message' | 'none' | 'garbage' | 'forged';
  /** A JWT-shaped token with hostile header members, for `forged`. */
  forged: string;
  /**
   * A well-formed stream first, so frames reach the stream code (otherwise they mostly close 3501):
   * a verification stream (refused while the account has no model) or an enrolment stream.
   */
  openStream: { stream: number; channels: number; enroll: boolean } | undefined;
  actions: SocketAction[];
}

const types = Object.keys(CLIENT_MESSAGES);

const schemaOf = (type: string) => CLIENT_MESSAGES[type as keyof typeof CLIENT_MESSAGES] as unknown as JsonSchema;

/** A control message of any type: valid (to reach what it does), or broken in one place. */
const control = (valid: boolean): fc.Arbitrary<SocketAction> =>
  fc
    .constantFrom(...types)
    .chain((type) =>
      fc.record({
        type: fc.constant(type),
        value: valid ? validValue(schemaOf(type)) : fuzzValue(schemaOf(type)),
        plantToken: fc.boolean(),
        // Now and then a message whose `type` is right but which carries a hostile extra key.
        extra: valid
          ? fc.constant(undefined)
          : fc.option(fc.tuple(fc.constantFrom('__proto__', 'constructor', 'type', 'stream'), hostileValue), { nil: undefined }),
      }),
    )
    .map(({ type, value, plantToken, extra }) => ({
      kind: 'control' as const,
      type,
      value: extra && value && typeof value === 'object' && !Array.isArray(value) ? withOwn(value, extra[0], extra[1]) : value,
      plantToken,
    }));

const stream = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 0, max: 3 }) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xffff }) },
);

/** Mostly well-formed (so sessions live long enough to reach streams, acks, enrolment), sometimes not. */
export const socketAction: fc.Arbitrary<SocketAction> = fc.oneof(
  { weight: 5, arbitrary: control(true) },
  { weight: 2, arbitrary: control(false) },
  { weight: 1, arbitrary: abusiveJsonText.map<SocketAction>((t) => ({ kind: 'text', text: jsonBytes(t) })) },
  {
    weight: 8,
    arbitrary: fc.record({
      kind: fc.constant('frame' as const),
      onOpen: fc.oneof({ weight: 5, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
      stream,
      channels: fc.integer({ min: 1, max: 4 }),
      count: fc.integer({ min: 1, max: 50 }),
      seq: fc.oneof(
        { weight: 5, arbitrary: fc.nat({ max: 20 }) },
        { weight: 1, arbitrary: fc.constantFrom(0xffffffff, 2 ** 31) },
      ),
      int16: fc.boolean(),
      ack: fc.boolean(),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('damaged-frame' as const),
      stream,
      channels: fc.integer({ min: 1, max: 4 }),
      count: fc.integer({ min: 1, max: 20 }),
      at: fc.nat({ max: FRAME_HEADER_BYTES + 40 }),
      byte: fc.integer({ min: 0, max: 255 }),
      cut: fc.nat({ max: 8 }),
    }),
  },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }).map<SocketAction>((bytes) => ({ kind: 'noise', bytes })) },
);

export const socketCase: fc.Arbitrary<SocketCase> = fc.record({
  auth: fc.constantFrom('header', 'header', 'header', 'protocol', 'message', 'none', 'garbage', 'forged'),
  forged: forgedJwt,
  openStream: fc.option(
    fc.record({ stream: fc.integer({ min: 0, max: 3 }), channels: fc.integer({ min: 1, max: 4 }), enroll: fc.boolean() }),
    { nil: undefined, freq: 5 },
  ),
  actions: fc.array(socketAction, { minLength: 1, maxLength: 10 }),
});

/** The message that opens the case's stream. */
export function openMessage(open: NonNullable<SocketCase['openStream']>): string {
  const channels = Array.from({ length: open.channels }, (_, i) => `c${i}`);
  return JSON.stringify(
    open.enroll
      ? { type: 'enroll.begin', stream: open.stream, modality: 'motion', rate: 50, channels }
      : { type: 'stream.open', stream: open.stream, rate: 50, channels },
  );
}

/** The bytes of one action; `token` is a live access token of the socket's own session. */
export function actionBytes(
  action: SocketAction,
  token: string,
  open: SocketCase['openStream'],
): { data: Buffer | Uint8Array; binary: boolean } {
  switch (action.kind) {
    case 'control': {
      let value = action.value;
      if (action.plantToken && value && typeof value === 'object' && !Array.isArray(value) && 'token' in value) {
        value = withOwn(value, 'token', token);
      }
      return { data: Buffer.from(JSON.stringify(value) ?? 'null', 'utf8'), binary: false };
    }
    case 'text':
      return { data: action.text, binary: false };
    case 'frame': {
      const stream = action.onOpen && open ? open.stream : action.stream;
      const channels = action.onOpen && open ? open.channels : action.channels;
      return {
        data: encodeFrame({
          stream,
          seq: action.seq,
          timestamp: Date.now(),
          channels,
          values: Array.from({ length: action.count * channels }, (_, i) => Math.sin(i) * 9.81),
          ackRequested: action.ack,
          ...(action.int16 ? { sampleType: 'int16' as const, scale: 0.01 } : {}),
        }),
        binary: true,
      };
    }
    case 'damaged-frame': {
      const frame = encodeFrame({
        stream: action.stream,
        seq: 0,
        timestamp: Date.now(),
        channels: action.channels,
        values: Array.from({ length: action.count * action.channels }, (_, i) => i),
      });
      const bytes = Buffer.from(frame);
      bytes[action.at % bytes.length] = action.byte;
      return { data: bytes.subarray(0, Math.max(0, bytes.length - action.cut)), binary: true };
    }
    case 'noise':
      return { data: action.bytes, binary: true };
  }
}
