import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { presignUrl } from '../../src/legacy/c-profile/uploads/s3-presign.ts';

export const S3_KEY = {
  accessKeyId: 'stand-in-key',
  secretAccessKey: 'stand/in+secret',
  region: 'ap-northeast-2',
  bucket: 'c-media',
};

/**
 * A local stand-in for an S3-compatible store (as the Twilio stub stands in for Twilio): PUT,
 * HEAD and DELETE on path-style object URLs, each refused unless its SigV4 query signature is
 * right for that method and object and has not expired. The signing code itself is checked
 * against AWS's documented example in s3-presign.test.ts.
 */
export async function startS3StandIn(): Promise<{
  url: string;
  configUrl: string;
  objects: Map<string, Buffer>;
  requests: string[];
  close(): Promise<void>;
}> {
  const objects = new Map<string, Buffer>();
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', `http://${req.headers.host}`);
      const method = req.method as 'PUT' | 'HEAD' | 'DELETE';
      requests.push(`${method} ${url.pathname}`);
      const q = url.searchParams;
      const date = q.get('X-Amz-Date') ?? '';
      const now = new Date(
        `${date.slice(0, 4)}-${date.slice(4, 6)}-${date.slice(6, 8)}T${date.slice(9, 11)}:${date.slice(11, 13)}:${date.slice(13, 15)}Z`,
      );
      const expires = Number(q.get('X-Amz-Expires'));
      const expected = presignUrl({
        method,
        url: new URL(url.origin + url.pathname),
        region: S3_KEY.region,
        accessKeyId: S3_KEY.accessKeyId,
        secretAccessKey: S3_KEY.secretAccessKey,
        expiresSeconds: expires,
        now,
      });
      const valid =
        new URL(expected).searchParams.get('X-Amz-Signature') === q.get('X-Amz-Signature') &&
        now.getTime() + expires * 1000 > Date.now();
      if (!valid) {
        res.writeHead(403).end('<Error><Code>SignatureDoesNotMatch</Code></Error>');
        return;
      }
      const key = decodeURIComponent(url.pathname);
      if (method === 'PUT') {
        objects.set(key, Buffer.concat(chunks));
        res.writeHead(200, { etag: '"stand-in"' }).end();
      } else if (method === 'HEAD') {
        const object = objects.get(key);
        res.writeHead(object ? 200 : 404, object ? { 'content-length': String(object.length) } : {}).end();
      } else {
        objects.delete(key);
        res.writeHead(204).end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const enc = encodeURIComponent;
  return {
    url: `http://127.0.0.1:${port}`,
    configUrl: `http://${enc(S3_KEY.accessKeyId)}:${enc(S3_KEY.secretAccessKey)}@127.0.0.1:${port}/${S3_KEY.bucket}?region=${S3_KEY.region}`,
    objects,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
