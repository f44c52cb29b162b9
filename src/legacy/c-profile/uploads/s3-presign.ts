import { createHash, createHmac } from 'node:crypto';

/** An S3-compatible bucket and the credentials that sign for it. */
export interface S3Target {
  /** Origin of the service, e.g. https://s3.ap-northeast-2.amazonaws.com or http://minio:9000. */
  endpoint: string;
  bucket: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
}

export interface PresignInput {
  method: 'GET' | 'PUT' | 'HEAD' | 'DELETE';
  /** The object's URL (path-style or virtual-hosted; it is signed as given). */
  url: URL;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  expiresSeconds: number;
  now?: Date;
}

/** RFC 3986 encoding as SigV4 wants it: unreserved characters stay, everything else is %XX upper-case. */
function uriEncode(value: string, keepSlash = false): string {
  return [...Buffer.from(value, 'utf8')]
    .map((byte) => {
      const c = String.fromCharCode(byte);
      if (/[A-Za-z0-9\-._~]/.test(c) || (keepSlash && c === '/')) return c;
      return `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
    })
    .join('');
}

const hmac = (key: Buffer | string, data: string) => createHmac('sha256', key).update(data, 'utf8').digest();
const sha256 = (data: string) => createHash('sha256').update(data, 'utf8').digest('hex');

/**
 * A presigned URL (AWS Signature Version 4, query-string authentication): whoever holds it may
 * perform `method` on that one object until it expires, without credentials. Only `host` is
 * signed and the payload is UNSIGNED-PAYLOAD, so a browser or app can PUT with its own headers.
 */
export function presignUrl(input: PresignInput): string {
  const now = input.now ?? new Date();
  const amzDate = now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
  const day = amzDate.slice(0, 8);
  const scope = `${day}/${input.region}/s3/aws4_request`;
  const url = new URL(input.url.href);
  const params: Array<[string, string]> = [
    ...url.searchParams.entries(),
    ['X-Amz-Algorithm', 'AWS4-HMAC-SHA256'],
    ['X-Amz-Credential', `${input.accessKeyId}/${scope}`],
    ['X-Amz-Date', amzDate],
    ['X-Amz-Expires', String(input.expiresSeconds)],
    ['X-Amz-SignedHeaders', 'host'],
  ];
  const query = params
    .map(([k, v]) => [uriEncode(k), uriEncode(v)] as const)
    .sort(([a, av], [b, bv]) => (a < b ? -1 : a > b ? 1 : av < bv ? -1 : av > bv ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  // The path as S3 sees it: each segment encoded once (S3 does not double-encode).
  const path = uriEncode(decodeURIComponent(url.pathname), true);
  const canonicalRequest = [input.method, path, query, `host:${url.host}\n`, 'host', 'UNSIGNED-PAYLOAD'].join('\n');
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonicalRequest)].join('\n');
  const key = hmac(hmac(hmac(hmac(`AWS4${input.secretAccessKey}`, day), input.region), 's3'), 'aws4_request');
  const signature = createHmac('sha256', key).update(stringToSign, 'utf8').digest('hex');
  return `${url.origin}${path}?${query}&X-Amz-Signature=${signature}`;
}

/** The object URL, path-style (works with every S3-compatible store: MinIO, R2, Ceph, AWS). */
export function objectUrl(target: S3Target, key: string): URL {
  return new URL(`${target.endpoint.replace(/\/+$/, '')}/${uriEncode(target.bucket)}/${uriEncode(key, true)}`);
}

/**
 * Parses VIGIL_LEGACY_C_S3_URL: https://<access key>:<secret>@<endpoint host>/<bucket>?region=<region>.
 * Credentials are percent-encoded in the URL (a secret's "/" and "+" as %2F and %2B).
 */
export function parseS3Url(value: string, variable = 'VIGIL_LEGACY_C_S3_URL'): S3Target {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`${variable}: not a URL`);
  }
  const bucket = decodeURIComponent(url.pathname.replace(/^\/+|\/+$/g, ''));
  if (!url.username || !url.password) throw new Error(`${variable}: must carry the access key and secret as user:password`);
  if (!bucket || bucket.includes('/')) throw new Error(`${variable}: the path must be the bucket name`);
  return {
    endpoint: url.origin,
    bucket,
    region: url.searchParams.get('region') ?? 'us-east-1',
    accessKeyId: decodeURIComponent(url.username),
    secretAccessKey: decodeURIComponent(url.password),
  };
}
