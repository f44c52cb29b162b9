import { Binary } from 'mongodb';

/**
 * Float32 arrays in Mongo as BSON Binary: 4 bytes per value (a BSON double array would take 2×
 * and lose nothing but space). Little-endian, the byte order of every platform this runs on.
 */
export function float32ToBinary(values: Float32Array): Binary {
  return new Binary(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
}

/** Copies the bytes into a fresh, aligned Float32Array (a driver buffer may sit at any offset). */
export function binaryToFloat32(binary: Binary): Float32Array {
  const bytes = binary.value();
  if (bytes.byteLength % 4 !== 0) throw new RangeError(`binary of ${bytes.byteLength} bytes is not float32 data`);
  const out = new Float32Array(bytes.byteLength / 4);
  new Uint8Array(out.buffer).set(bytes);
  return out;
}

export function binaryToBytes(binary: Binary): Uint8Array {
  return Uint8Array.from(binary.value());
}
