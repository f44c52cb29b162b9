import { describe, expect, it } from 'vitest';
import { parseClientMessage, readyJson, samplesToFrame, serializeServerMessage } from './control-messages.ts';

describe('parseClientMessage', () => {
  it('accepts each message its schema allows', () => {
    for (const message of [
      { type: 'auth', token: 'a.b.c' },
      { type: 'refresh', token: 'a.b.c' },
      { type: 'stream.open', stream: 1, rate: 50, channels: ['x', 'y', 'z'] },
      { type: 'stream.close', stream: 1 },
      { type: 'samples', stream: 1, seq: 0, t: 1, samples: [[1, 2]], ack: true },
      { type: 'enroll.begin', stream: 2, modality: 'accelerometer', rate: 50, channels: ['x'] },
      { type: 'enroll.commit', stream: 2 },
      { type: 'enroll.cancel', stream: 2 },
      { type: 'bye' },
    ]) {
      expect(parseClientMessage(JSON.stringify(message))).toEqual({ ok: true, message });
    }
  });

  it.each([
    ['not JSON', '{', /not valid JSON/],
    ['an array', '[1]', /not a JSON object/],
    ['no type', '{"token":"x"}', /unknown message type undefined/],
    ['an unknown type', '{"type":"hello"}', /unknown message type "hello"/],
    ['a missing field', '{"type":"auth"}', /auth: \/token/],
    ['an extra field', '{"type":"bye","x":1}', /bye: \/x/],
    ['a stream id out of range', '{"type":"stream.close","stream":70000}', /stream.close: \/stream/],
    ['a bad channel name', '{"type":"stream.open","stream":1,"rate":5,"channels":["a b"]}', /\/channels\/0/],
  ])('refuses %s', (_name, text, reason) => {
    const result = parseClientMessage(text);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toMatch(reason);
  });
});

describe('serializeServerMessage', () => {
  it('checks messages against their schema when asked', () => {
    const ack = { type: 'ack', stream: 1, seq: 3, frames: 4, gaps: 0, duplicates: 0 } as const;
    expect(JSON.parse(serializeServerMessage(ack, true))).toEqual(ack);
    const broken = { ...ack, seq: -1 };
    expect(() => serializeServerMessage(broken, true)).toThrow(/ack breaks its schema: \/seq/);
    expect(() => serializeServerMessage(broken, false)).not.toThrow();
  });
});

describe('samplesToFrame', () => {
  it('gives the same frame a binary message would', () => {
    const result = samplesToFrame({
      type: 'samples',
      stream: 3,
      seq: 9,
      t: 1000,
      samples: [
        [1, 2],
        [3, 4.5],
      ],
      ack: true,
    });
    expect(result.ok).toBe(true);
    if (result.ok) {
      expect(result.frame).toMatchObject({ stream: 3, seq: 9, timestamp: 1000, channels: 2, count: 2, ackRequested: true });
      expect(Array.from(result.frame.values)).toEqual([1, 2, 3, 4.5]);
    }
  });

  it('refuses ragged rows and values float32 cannot hold', () => {
    expect(samplesToFrame({ type: 'samples', stream: 1, seq: 0, t: 0, samples: [[1, 2], [3]] })).toEqual({
      ok: false,
      reason: 'sample 1 has 1 values; sample 0 has 2',
    });
    expect(samplesToFrame({ type: 'samples', stream: 1, seq: 0, t: 0, samples: [[1e39]] }).ok).toBe(false);
  });
});

describe('readyJson', () => {
  const limits = {
    maxMessageBytes: 65_536,
    maxMessagesPerSecond: 200,
    maxStreams: 4,
    maxChannels: 64,
    idleTimeoutSeconds: 120,
    expiryWarningSeconds: 60,
  };
  it.each([
    ['no model', null],
    ['a model', { modelId: 'm"1\\', version: 3, window: 2.5, hop: 1.25, rate: 20, channels: ['x', 'y', 'z'] }],
  ])('writes exactly what JSON.stringify writes, with %s', (_name, model) => {
    const ready = {
      type: 'ready',
      protocol: 1,
      connectionId: 'abc-1z',
      sessionId: 's\u2028"quoted"',
      userId: 'user-é',
      serverTime: 1_764_000_000_123,
      expiresAt: 1_764_000_900,
      limits,
      model,
    } as const;
    expect(readyJson(ready as never, JSON.stringify(limits))).toBe(JSON.stringify(ready));
  });
});
