import { requestContext } from '../server/http/request-context.ts';
import { Type } from '@sinclair/typebox';
import { ErrorBodySchema } from '../../protocol/http/common.ts';
import {
  EnrollmentAccepted,
  EnrollmentIdParams,
  EnrollmentParams,
  EnrollmentUploadParams,
  EnrollmentView,
  AccountIdParams,
  AdminVerifyReply,
  ModelDeleted,
  ModelView,
  VerifyParams,
  VerifyReply,
} from '../../protocol/http/biometrics.ts';
import type { AdminPrincipal } from '../server/admin-auth.ts';
import { defineRoute, type Authenticator, type Route } from '../server/http/route.ts';
import type { Principal } from '../server/http/principal.ts';
import type { OwnerChanges } from './assurance/owner-change.ts';
import { REAUTH_HEADER, reauthFromHeader } from './assurance/reauth-input.ts';
import type { BiometricService } from './biometric-service.ts';
import { verificationSummary } from './verification.ts';
import { UPLOAD_MEDIA_TYPES } from './uploads/decode-upload.ts';
import { readUpload, uploadFields } from './uploads/read-upload.ts';

const TAGS = ['biometrics'];
const errors = {
  400: ErrorBodySchema,
  401: ErrorBodySchema,
  403: ErrorBodySchema,
  404: ErrorBodySchema,
  429: ErrorBodySchema,
  503: ErrorBodySchema,
};
const uploadErrors = { ...errors, 409: ErrorBodySchema, 413: ErrorBodySchema, 415: ErrorBodySchema, 422: ErrorBodySchema };
const upload = { kind: 'raw', types: UPLOAD_MEDIA_TYPES } as const;

const channelList = (channels: string | undefined) => (channels === undefined ? undefined : channels.split(','));

/** `/v1/biometrics/*`: enrolment, its status, verification, the caller's model. */
export function biometricRoutes(deps: {
  service: BiometricService;
  owner: OwnerChanges;
  auth: Authenticator<Principal>;
  admin: Authenticator<AdminPrincipal>;
  uploadLimit: number;
}): Route[] {
  const { service, owner, auth, admin, uploadLimit } = deps;
  const enrollmentFields = uploadFields<EnrollmentParams>(EnrollmentParams);
  const appendFields = uploadFields<EnrollmentUploadParams>(EnrollmentUploadParams);
  const verifyFields = uploadFields<VerifyParams>(VerifyParams);
  const location = (id: string) => ({ location: `/v1/biometrics/enrollments/${id}` });

  return [
    defineRoute({
      method: 'POST',
      path: '/v1/biometrics/enrollments',
      summary:
        'Enrol: upload samples (CSV, JSON, binary frames, or a multipart file) or feature rows (kind=features); trains a new model version in the background (replacing a model needs a Vigil-Reauth header or recent genuine standing)',
      tags: TAGS,
      auth,
      body: upload,
      schema: { query: EnrollmentParams, response: { 202: EnrollmentAccepted, ...uploadErrors } },
    }).handle(async ({ raw, query, auth: principal, info }) => {
      const meta = requestContext(info, principal.sessionId);
      const reauth = reauthFromHeader(info.headers[REAUTH_HEADER]);
      await owner.assertFresh(principal, 'enrolled', meta);
      const { file, source, params } = await readUpload(raw, query, enrollmentFields, uploadLimit);
      // Trained at once: it replaces an existing model. An open one is proven at its commit.
      if (params.open !== true) await owner.assertReplaceProof(principal, 'enrolled', reauth, meta);
      const accepted = await service.enrollUpload(
        principal.userId,
        file,
        source,
        { ...params, channels: channelList(params.channels) },
        requestContext(info, principal.sessionId),
      );
      return { status: 202, body: accepted, headers: location(accepted.enrollmentId) };
    }),

    defineRoute({
      method: 'POST',
      path: '/v1/biometrics/enrollments/:id/uploads',
      summary: 'Add a recording to an open enrolment (created with open=true); kind, rate and channels must match the first',
      tags: TAGS,
      auth,
      body: upload,
      schema: {
        params: EnrollmentIdParams,
        query: EnrollmentUploadParams,
        response: { 202: EnrollmentAccepted, ...uploadErrors },
      },
    }).handle(async ({ raw, params: path, query, auth: principal, info }) => {
      await owner.assertFresh(principal, 'enrolled', requestContext(info, principal.sessionId));
      const { file, source, params } = await readUpload(raw, query, appendFields, uploadLimit);
      const accepted = await service.appendUpload(principal.userId, path.id, file, source, {
        ...params,
        channels: channelList(params.channels),
      });
      return { status: 202, body: accepted, headers: location(accepted.enrollmentId) };
    }),

    defineRoute({
      method: 'POST',
      path: '/v1/biometrics/enrollments/:id/commit',
      summary:
        'Close an open enrolment and queue its training (repeating it answers the current state; replacing a model needs a Vigil-Reauth header or recent genuine standing)',
      tags: TAGS,
      auth,
      schema: {
        params: EnrollmentIdParams,
        response: { 202: EnrollmentAccepted, ...errors, 409: ErrorBodySchema, 422: ErrorBodySchema },
      },
    }).handle(async ({ params, auth: principal, info }) => {
      const reauth = reauthFromHeader(info.headers[REAUTH_HEADER]);
      await owner.assertReplace(principal, 'enrolled', reauth, requestContext(info, principal.sessionId));
      const accepted = await service.commit(principal.userId, params.id, requestContext(info, principal.sessionId));
      return { status: 202, body: accepted, headers: location(accepted.enrollmentId) };
    }),

    defineRoute({
      method: 'GET',
      path: '/v1/biometrics/enrollments/:id',
      summary: "An enrolment's state: open, queued, training (with progress), ready (model version, metrics) or failed (reason)",
      tags: TAGS,
      auth,
      schema: { params: EnrollmentIdParams, response: { 200: EnrollmentView, ...errors } },
    }).handle(async ({ params, auth: principal }) => ({ status: 200, body: await service.status(principal.userId, params.id) })),

    defineRoute({
      method: 'POST',
      path: '/v1/biometrics/verify',
      summary:
        'Verify an upload against the latest model: accepted/total windows and the fused verdict (no scores; windows per hour are capped)',
      tags: TAGS,
      auth,
      body: upload,
      schema: { query: VerifyParams, response: { 200: VerifyReply, ...uploadErrors } },
    }).handle(async ({ raw, query, auth: principal }) => {
      const { file, source, params } = await readUpload(raw, query, verifyFields, uploadLimit);
      const result = await service.verifyUpload(principal.userId, file, source, {
        ...params,
        channels: channelList(params.channels),
      });
      return { status: 200, body: verificationSummary(result) };
    }),

    defineRoute({
      method: 'POST',
      path: '/v1/admin/accounts/:id/biometrics/verify',
      summary:
        "Operators' evaluation: verify an upload against the account's latest model with per-window scores, the mean score and the threshold",
      tags: ['admin', ...TAGS],
      auth: admin,
      body: upload,
      schema: {
        params: AccountIdParams,
        query: VerifyParams,
        response: { 200: AdminVerifyReply, ...uploadErrors },
      },
    }).handle(async ({ raw, params: path, query }) => {
      const { file, source, params } = await readUpload(raw, query, verifyFields, uploadLimit);
      const result = await service.verifyUpload(
        path.id,
        file,
        source,
        { ...params, channels: channelList(params.channels) },
        { operator: true },
      );
      return { status: 200, body: result };
    }),

    defineRoute({
      method: 'GET',
      path: '/v1/biometrics/model',
      summary: "The caller's latest (or a given) model version: detector, feature spec, threshold, metrics, calibration",
      tags: TAGS,
      auth,
      schema: {
        query: Type.Object({ version: Type.Optional(Type.Integer({ minimum: 1 })) }, { additionalProperties: false }),
        response: { 200: ModelView, ...errors },
      },
    }).handle(async ({ query, auth: principal }) => ({
      status: 200,
      body: await service.model(principal.userId, query.version),
    })),

    defineRoute({
      method: 'DELETE',
      path: '/v1/biometrics/model',
      summary:
        'Delete every model version and all enrolment data of the caller (needs a login within VIGIL_BIOMETRIC_PROOF_MAX_AGE_SECONDS, and a Vigil-Reauth header or recent genuine standing)',
      tags: TAGS,
      auth,
      schema: { response: { 200: ModelDeleted, ...errors } },
    }).handle(async ({ auth: principal, info }) => {
      const reauth = reauthFromHeader(info.headers[REAUTH_HEADER]);
      await owner.assertReplace(principal, 'deleted', reauth, requestContext(info, principal.sessionId));
      return { status: 200, body: await service.deleteAll(principal.userId, requestContext(info, principal.sessionId)) };
    }),
  ];
}
