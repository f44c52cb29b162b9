import fc from 'fast-check';

/**
 * Request bodies as bytes, including what JSON.stringify can never produce: nesting deeper than
 * any recursive walker survives, duplicate keys, number literals beyond double range, a BOM,
 * invalid UTF-8, trailing garbage. These reach the body parser and every schema walker after it.
 */

export type JsonText = { kind: 'value'; value: unknown } | { kind: 'text'; text: string } | { kind: 'bytes'; bytes: Buffer };

const nested = (open: string, inner: string, close: string, depth: number) => open.repeat(depth) + inner + close.repeat(depth);

export const abusiveJsonText: fc.Arbitrary<JsonText> = fc.oneof(
  fc.constantFrom(1_000, 20_000, 200_000).map((depth): JsonText => ({ kind: 'text', text: nested('[', '', ']', depth) })),
  fc.constantFrom(1_000, 20_000, 100_000).map((depth): JsonText => ({ kind: 'text', text: nested('{"a":', '1', '}', depth) })),
  fc
    .constantFrom('1e400', '-1e400', '123456789012345678901234567890', '0.0000000000000000000000000000001e-400', '-0')
    .map((literal): JsonText => ({ kind: 'text', text: `{"value":${literal},"password":${literal},"identifier":${literal}}` })),
  fc
    .constantFrom(
      '',
      ' ',
      'null',
      'true',
      '"text"',
      '[]',
      '{}{}',
      '{} trailing',
      '{"a":1,}',
      "{'a':1}",
      '{"a":NaN}',
      '{"a":Infinity}',
      '{"a":"\\ud800"}',
      '{"a":"\\u0000"}',
      '{"__proto__":{"polluted":true}}',
      '{"constructor":{"prototype":{"polluted":true}}}',
      '{"a":1} // comment',
      '\uFEFF{}',
    )
    .map((text): JsonText => ({ kind: 'text', text })),
  fc
    .constantFrom(
      Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]), // {"a":"<ff fe>"}
      Buffer.from([0xc0, 0xaf]), // overlong '/'
      Buffer.from([0xef, 0xbb, 0xbf, 0x7b, 0x7d]), // UTF-8 BOM + {}
      Buffer.from('{"a":"\u00e9"}', 'latin1'),
      Buffer.from('{"a":1}', 'utf16le'),
    )
    .map((bytes): JsonText => ({ kind: 'bytes', bytes })),
);

/** The same object with one key repeated: JSON.parse keeps the last, a proxy in front may keep the first. */
export function withDuplicateKey(value: Record<string, unknown>, key: string, second: unknown): string {
  const first = JSON.stringify(value);
  const extra = `${JSON.stringify(key)}:${JSON.stringify(second) ?? 'null'}`;
  return first === '{}' ? `{${extra},${extra}}` : `${first.slice(0, -1)},${extra}}`;
}

export function jsonBytes(text: JsonText): Buffer {
  switch (text.kind) {
    case 'value':
      return Buffer.from(JSON.stringify(text.value) ?? 'null', 'utf8');
    case 'text':
      return Buffer.from(text.text, 'utf8');
    case 'bytes':
      return text.bytes;
  }
}

/** multipart/form-data by hand, so boundaries, part headers and endings can be broken on purpose. */
export function multipart(
  parts: Array<{ name: string; value: string | Buffer; filename?: string; type?: string }>,
  options: { boundary?: string; close?: boolean; partHeader?: string } = {},
): { bytes: Buffer; contentType: string } {
  const boundary = options.boundary ?? 'vigil-fuzz-boundary';
  const chunks: Buffer[] = [];
  for (const part of parts) {
    const disposition = `form-data; name="${part.name}"${part.filename !== undefined ? `; filename="${part.filename}"` : ''}`;
    const headers = [`Content-Disposition: ${disposition}`];
    if (part.type) headers.push(`Content-Type: ${part.type}`);
    if (options.partHeader) headers.push(options.partHeader);
    chunks.push(Buffer.from(`--${boundary}\r\n${headers.join('\r\n')}\r\n\r\n`, 'utf8'));
    chunks.push(typeof part.value === 'string' ? Buffer.from(part.value, 'utf8') : part.value);
    chunks.push(Buffer.from('\r\n'));
  }
  if (options.close !== false) chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { bytes: Buffer.concat(chunks), contentType: `multipart/form-data; boundary=${boundary}` };
}
