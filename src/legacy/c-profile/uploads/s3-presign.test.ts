import { describe, expect, it } from 'vitest';
import { objectUrl, parseS3Url, presignUrl } from './s3-presign.ts';

describe('SigV4 query presigning', () => {
  it("reproduces the example in AWS's S3 documentation (Authenticating Requests: Using Query Parameters)", () => {
    const url = presignUrl({
      method: 'GET',
      url: new URL('https://examplebucket.s3.amazonaws.com/test.txt'),
      region: 'us-east-1',
      accessKeyId: 'AKIAIOSFODNN7EXAMPLE',
      secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
      expiresSeconds: 86_400,
      now: new Date('2013-05-24T00:00:00Z'),
    });
    expect(url).toBe(
      'https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404',
    );
  });

  it('signs the method: the same object PUT gets another signature', () => {
    const base = {
      url: new URL('https://examplebucket.s3.amazonaws.com/test.txt'),
      region: 'us-east-1',
      accessKeyId: 'A',
      secretAccessKey: 'S',
      expiresSeconds: 60,
      now: new Date(0),
    };
    const sig = (u: string) => new URL(u).searchParams.get('X-Amz-Signature');
    expect(sig(presignUrl({ ...base, method: 'PUT' }))).not.toBe(sig(presignUrl({ ...base, method: 'GET' })));
  });

  it('builds path-style object URLs and parses the configuration URL', () => {
    const target = parseS3Url('http://minio%2Fkey:se%2Bcret%2F1@127.0.0.1:9000/media-bucket?region=ap-northeast-2');
    expect(target).toEqual({
      endpoint: 'http://127.0.0.1:9000',
      bucket: 'media-bucket',
      region: 'ap-northeast-2',
      accessKeyId: 'minio/key',
      secretAccessKey: 'se+cret/1',
    });
    expect(objectUrl(target, 'images/users/avatars/avatar_x y.jpeg').href).toBe(
      'http://127.0.0.1:9000/media-bucket/images/users/avatars/avatar_x%20y.jpeg',
    );
    expect(() => parseS3Url('https://127.0.0.1/bucket')).toThrow(/access key/);
    expect(() => parseS3Url('https://a:b@127.0.0.1/')).toThrow(/bucket/);
  });
});
