import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import type { TSchema } from '@sinclair/typebox';
import type { DecodeResult } from '../../protocol/frames.ts';
import {
  CLIENT_MESSAGES,
  SERVER_MESSAGES,
  type ClientMessage,
  type ClientMessageOf,
  type ServerMessage,
  type ServerMessageOf,
} from '../../protocol/messages.ts';

const clientChecks = new Map<string, TypeCheck<TSchema>>(
  Object.entries(CLIENT_MESSAGES).map(([type, schema]) => [type, TypeCompiler.Compile(schema)]),
);
const serverChecks = new Map<string, TypeCheck<TSchema>>(
  Object.entries(SERVER_MESSAGES).map(([type, schema]) => [type, TypeCompiler.Compile(schema)]),
);

export type ParseResult = { ok: true; message: ClientMessage } | { ok: false; reason: string };

const fail = (reason: string): ParseResult => ({ ok: false, reason });

/** Parses and validates one client text message against the schema its `type` names. */
export function parseClientMessage(text: string): ParseResult {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return fail('not valid JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return fail('not a JSON object');
  const type = (value as { type?: unknown }).type;
  const check = typeof type === 'string' ? clientChecks.get(type) : undefined;
  if (!check || typeof type !== 'string')
    return fail(`unknown message type ${JSON.stringify(type)?.slice(0, 40) ?? 'undefined'}`);
  if (!check.Check(value)) {
    const first = check.Errors(value).First();
    return fail(`${type}: ${first ? `${first.path || '/'} ${first.message}` : 'invalid'}`);
  }
  return { ok: true, message: value as ClientMessage };
}

/**
 * JSON of a server message. With `validate` (development and test) a message that breaks its
 * schema throws, exactly as an HTTP reply outside its schema is a 500.
 */
export function serializeServerMessage(message: ServerMessage, validate: boolean): string {
  if (validate) {
    const { type } = message;
    const check = serverChecks.get(type)!;
    if (!check.Check(message)) {
      const first = check.Errors(message).First();
      throw new Error(`server message ${type} breaks its schema: ${first?.path ?? ''} ${first?.message ?? ''}`);
    }
  }
  return JSON.stringify(message);
}

/** The JSON `samples` message as the same SampleFrame a binary frame decodes to. */
export function samplesToFrame(message: ClientMessageOf<'samples'>): DecodeResult {
  const rows = message.samples;
  const channels = rows[0]!.length;
  const values = new Float32Array(rows.length * channels);
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i]!;
    if (row.length !== channels) return { ok: false, reason: `sample ${i} has ${row.length} values; sample 0 has ${channels}` };
    for (let c = 0; c < channels; c++) {
      const v = Math.fround(row[c]!);
      if (!Number.isFinite(v)) return { ok: false, reason: `sample ${i} channel ${c} is not a finite float32` };
      values[i * channels + c] = v;
    }
  }
  return {
    ok: true,
    frame: {
      stream: message.stream,
      seq: message.seq,
      timestamp: message.t,
      channels,
      count: rows.length,
      sampleType: 'float32',
      scale: 1,
      ackRequested: message.ack === true,
      values,
    },
  };
}

/** `ready` as JSON.stringify writes it (same keys, same order), with `limits` already serialized. */
export function readyJson(ready: ServerMessageOf<'ready'>, limitsJson: string): string {
  return (
    `{"type":"ready","protocol":${ready.protocol},"connectionId":${JSON.stringify(ready.connectionId)}` +
    `,"sessionId":${JSON.stringify(ready.sessionId)},"userId":${JSON.stringify(ready.userId)}` +
    `,"serverTime":${ready.serverTime},"expiresAt":${ready.expiresAt},"limits":${limitsJson}` +
    `,"model":${JSON.stringify(ready.model)}}`
  );
}
