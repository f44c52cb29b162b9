import { randomBytes } from 'node:crypto';

/** The alphabet of Python's shortuuid, which C's Django server used for its 22-character ids. */
const ALPHABET = '23456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';
const BASE = BigInt(ALPHABET.length);
const LENGTH = 22; // 57^22 > 2^128

function encode(value: bigint): string {
  let out = '';
  for (let i = 0; i < LENGTH; i++) {
    out = ALPHABET[Number(value % BASE)]! + out;
    value /= BASE;
  }
  return out;
}

/** A UUID in C's 22-character form ("CLS9fByfifGwPy5YQWTQon"): the same 128 bits, so stable per account. */
export function shortUuid(uuid: string): string {
  return encode(BigInt(`0x${uuid.replace(/-/g, '')}`));
}

/** 128 random bits in the same form, for upload file names. */
export function randomShortId(): string {
  return encode(BigInt(`0x${randomBytes(16).toString('hex')}`));
}
