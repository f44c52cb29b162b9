import { CErrorReply, CSignBody, CSignReply, CUploadQuery, CUploadReply } from '../../../protocol/legacy/c-profile.ts';
import { enforceLimit } from '../../rate-limits/enforce-limit.ts';
import type { RateLimiter } from '../../rate-limits/rate-limiter.ts';
import { defineRoute, type Route } from '../../server/http/route.ts';
import { formatCError } from './c-errors.ts';
import { UPLOAD_TYPES, type UploadStore } from './uploads/upload-store.ts';
import { clientKey } from '../../rate-limits/client-key.ts';

const TAGS = ['legacy C'];
/** Signed upload URLs per client IP per hour (sign-s3 needs no login: it comes before registration). */
const SIGNS_PER_IP_HOURLY = 120;

/** sign-s3 and, when no S3-compatible store is configured, the gateway's own upload endpoint. */
export function cUploadRoutes(deps: { uploads: UploadStore; rateLimiter: RateLimiter; maxBytes: number }): Route[] {
  const { uploads } = deps;
  const routes: Route[] = [
    defineRoute({
      method: 'POST',
      path: '/api/sign-s3/',
      summary:
        'C: a URL to PUT one image to (presigned S3 when configured, else the gateway), and the reference to register with',
      tags: TAGS,
      body: { kind: 'form' },
      formatError: formatCError,
      schema: {
        body: CSignBody,
        response: { 200: CSignReply, 400: CErrorReply, 413: CErrorReply, 415: CErrorReply, 429: CErrorReply, 503: CErrorReply },
      },
    }).handle(async ({ body, info }) => {
      await enforceLimit(deps.rateLimiter, `legacy:c:sign:ip:${clientKey(info.ip)}`, {
        limit: SIGNS_PER_IP_HOURLY,
        windowSeconds: 3600,
      });
      return { status: 200, body: await uploads.sign({ fileName: body.file_name, fileType: body.file_type, kind: body.kind }) };
    }),
  ];
  if (!uploads.usesS3) {
    routes.push(
      defineRoute({
        method: 'PUT',
        path: '/api/uploads/',
        summary: 'C: the upload URL sign-s3 handed out, when the gateway stores uploads itself (signed, expiring, size-limited)',
        tags: TAGS,
        body: { kind: 'raw', types: Object.keys(UPLOAD_TYPES), limit: deps.maxBytes },
        formatError: formatCError,
        schema: {
          query: CUploadQuery,
          response: { 200: CUploadReply, 400: CErrorReply, 403: CErrorReply, 413: CErrorReply, 415: CErrorReply },
        },
      }).handle(async ({ query, raw }) => ({
        status: 200,
        body: { path: await uploads.receive(query, raw!.bytes, raw!.contentType) },
      })),
    );
  }
  return routes;
}
