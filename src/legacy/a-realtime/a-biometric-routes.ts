import { requestContext } from '../../server/http/request-context.ts';
import { VigilError } from '../../../protocol/errors.ts';
import { ACheckReply, ADetailReply, AErrorReply, AMakeModelBody, AUploadBody } from '../../../protocol/legacy/a-realtime.ts';
import type { OwnerChanges } from '../../biometrics/assurance/owner-change.ts';
import type { BiometricService } from '../../biometrics/biometric-service.ts';
import { defineRoute, type Route } from '../../server/http/route.ts';
import type { UploadedFile } from '../../server/http/body.ts';
import { formatAError } from './a-errors.ts';
import { enrolAFile, verifyAFile } from './a-files.ts';
import type { ATokens } from './a-tokens.ts';

const TAGS = ['legacy A'];
const failures = {
  400: AErrorReply,
  401: AErrorReply,
  403: AErrorReply,
  404: AErrorReply,
  413: AErrorReply,
  415: AErrorReply,
  429: AErrorReply,
  500: AErrorReply,
  503: AErrorReply,
};

/**
 * The uploaded `data`: a file part (as the document's "(FILE)" says), or a plain form field
 * holding the file's text, which DRF's request.data would equally have accepted.
 */
function dataOf(
  files: Readonly<Record<string, UploadedFile>>,
  body: object,
): { bytes: Uint8Array; contentType: string; filename?: string } {
  const file = files.data;
  if (file) return { bytes: file.bytes, contentType: file.contentType, filename: file.filename };
  const text = (body as { data?: unknown }).data;
  if (typeof text === 'string' && text.length > 0) return { bytes: Buffer.from(text), contentType: 'text/plain' };
  throw new VigilError('VALIDATION_FAILED', { summary: 'data: required' }, { details: [{ field: 'data', message: 'required' }] });
}

/**
 * Dialect A's biometric endpoints over the biometric service: make_model enrols the uploaded
 * file and answers once the model is trained (A's clients call check_user right after; the
 * wait is VIGIL_LEGACY_A_MODEL_WAIT_SECONDS), check_user verifies a file against the latest
 * model and answers in A's words. File formats: docs/biometrics.md, "Legacy files".
 */
export function aBiometricRoutes(deps: {
  biometrics: BiometricService;
  owner: OwnerChanges;
  tokens: ATokens;
  waitSeconds: number;
  /** VIGIL_BIOMETRIC_DEFAULT_RATE: the rate of files that state none. */
  defaultRate: number;
}): Route[] {
  const { biometrics, owner, tokens, waitSeconds, defaultRate } = deps;
  return [
    defineRoute({
      method: 'POST',
      path: '/server/authenticate/make_model/',
      summary:
        'A: enrol the uploaded `data` file and train a new model version (multipart `token` + `data`; replacing a model also `password`)',
      tags: TAGS,
      body: { kind: 'form' },
      formatError: formatAError,
      schema: { body: AMakeModelBody, response: { 200: ADetailReply, ...failures } },
    }).handle(async ({ body, files, info }) => {
      const session = await tokens.resolve(body.token);
      // A's token is the session's: a make_model replaces the model, so it needs a recent login too,
      // and, when a model exists, the password (a field A never had) or recent genuine standing.
      const data = dataOf(files, body); // a missing file is the client's mistake before any proof is spent
      const reauth = body.password === undefined ? undefined : { password: body.password, field: 'password' };
      await owner.assertReplace(
        { userId: session.userId, sessionId: session.id },
        'enrolled',
        reauth,
        requestContext(info, session.id),
      );
      const accepted = await enrolAFile(biometrics, session.userId, data, defaultRate, requestContext(info, session.id));
      // The data is saved at this point; a model still training after the wait is used once ready.
      await biometrics.awaitTraining(session.userId, accepted.enrollmentId, waitSeconds * 1000);
      return { status: 200, body: { detail: '저장완료.' } };
    }),

    defineRoute({
      method: 'POST',
      path: '/server/authenticate/check_user/',
      summary: "A: verify the uploaded `data` file against the caller's latest model (multipart `token` + `data`)",
      tags: TAGS,
      body: { kind: 'form' },
      formatError: formatAError,
      schema: { body: AUploadBody, response: { 200: ACheckReply, ...failures } },
    }).handle(async ({ body, files }) => {
      const session = await tokens.resolve(body.token);
      const result = await verifyAFile(biometrics, session.userId, dataOf(files, body));
      return {
        status: 200,
        body: {
          '전체 Test': result.total,
          '맞은 Test': result.accepted,
          '맞은 비율': result.ratio,
          detail: result.verdict === 'accept' ? '인증 성공' : '인증 실패',
        },
      };
    }),
  ];
}
