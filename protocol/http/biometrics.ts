import { Type, type Static } from '@sinclair/typebox';
import {
  DataKindSchema,
  DetectorNameSchema,
  ModelMetricsSchema,
  ModelSummarySchema,
  SAMPLE_LIMITS,
  VerificationResultSchema,
  VerificationSummarySchema,
} from '../biometrics.ts';
import { ERRORS } from '../errors.ts';

/**
 * HTTP contracts of the biometric service (`/v1/biometrics/*`). Uploads are raw bodies
 * (`text/csv`, `application/json`, `application/octet-stream` sample frames, or a
 * `multipart/form-data` file); their parameters come as query or form fields, validated here.
 */

const CHANNEL = '[A-Za-z0-9_.:-]{1,64}';

const uploadFields = {
  kind: Type.Optional(DataKindSchema),
  rate: Type.Optional(
    Type.Number({
      exclusiveMinimum: 0,
      maximum: SAMPLE_LIMITS.maxRate,
      description: 'Sample rate, Hz (CSV without a t column, frames)',
    }),
  ),
  channels: Type.Optional(
    Type.String({
      pattern: `^${CHANNEL}(,${CHANNEL})*$`,
      maxLength: 4200,
      description: 'Channel names of binary frames, comma-separated (frames carry only a count); default c0,c1,…',
    }),
  ),
};

/** Parameters of an enrolment upload: the query string, or form fields next to a multipart file. */
export const EnrollmentParams = Type.Object(
  {
    ...uploadFields,
    modality: Type.Optional(
      Type.String({
        pattern: '^[a-z0-9][a-z0-9_.-]{0,63}$',
        description: 'Label such as motion, ppg, ecg, keystroke; picks the default window and groups the cohort',
      }),
    ),
    window: Type.Optional(
      Type.Number({ exclusiveMinimum: 0, maximum: 600, description: 'Window length, seconds (samples only)' }),
    ),
    hop: Type.Optional(
      Type.Number({ exclusiveMinimum: 0, maximum: 600, description: 'Hop between windows, seconds; default half the window' }),
    ),
    detector: Type.Optional(DetectorNameSchema),
    open: Type.Optional(
      Type.Boolean({
        description:
          'Keep the enrolment open for more uploads (POST …/{id}/uploads) and train on POST …/{id}/commit; default false: train now',
      }),
    ),
  },
  { additionalProperties: false },
);
export type EnrollmentParams = Static<typeof EnrollmentParams>;

/** Parameters of a further upload to an open enrolment (the spec was fixed by the first). */
export const EnrollmentUploadParams = Type.Object(uploadFields, { additionalProperties: false });
export type EnrollmentUploadParams = Static<typeof EnrollmentUploadParams>;

/** Parameters of a verification upload; window and hop are the model's. */
export const VerifyParams = Type.Object(uploadFields, { additionalProperties: false });
export type VerifyParams = Static<typeof VerifyParams>;

export const EnrollmentIdParams = Type.Object({ id: Type.String({ pattern: '^[0-9a-f]{24}$' }) });

export const EnrollmentStatusSchema = Type.Union(
  ['open', 'queued', 'training', 'ready', 'failed'].map((s) => Type.Literal(s)),
  {
    description:
      'open: collecting uploads; queued: waiting for a training worker; training: running; ready: a model version was stored; failed: see error',
  },
);
export type EnrollmentStatus = 'open' | 'queued' | 'training' | 'ready' | 'failed';

export const EnrollmentAccepted = Type.Object({
  enrollmentId: Type.String(),
  status: EnrollmentStatusSchema,
  /** Uploads (recordings) so far; windows never span two uploads. */
  uploads: Type.Integer({ minimum: 0 }),
  /** Windows the enrolment yields with its window/hop. */
  windows: Type.Integer({ minimum: 0 }),
});
export type EnrollmentAccepted = Static<typeof EnrollmentAccepted>;

/** Why an enrolment failed: a catalogue code and its message. */
export const EnrollmentError = Type.Object({
  code: Type.Union(Object.keys(ERRORS).map((code) => Type.Literal(code))),
  message: Type.String(),
});

export const EnrollmentView = Type.Object(
  {
    enrollmentId: Type.String(),
    status: EnrollmentStatusSchema,
    /** 0…1: BullMQ job progress while training, 1 when ready. */
    progress: Type.Number({ minimum: 0, maximum: 1 }),
    kind: DataKindSchema,
    modality: Type.String(),
    uploads: Type.Integer({ minimum: 0 }),
    rows: Type.Integer({ minimum: 0 }),
    windows: Type.Integer({ minimum: 0 }),
    /** Detector asked for (the model may have fallen back to a one-class one). */
    detector: Type.Optional(DetectorNameSchema),
    createdAt: Type.String({ format: 'date-time' }),
    updatedAt: Type.String({ format: 'date-time' }),
    modelVersion: Type.Optional(Type.Integer({ minimum: 1 })),
    metrics: Type.Optional(ModelMetricsSchema),
    error: Type.Optional(EnrollmentError),
  },
  { $id: 'BiometricEnrollment' },
);
export type EnrollmentView = Static<typeof EnrollmentView>;

/** A stored model version without its ONNX bytes. */
export const ModelView = Type.Object(
  {
    version: Type.Integer({ minimum: 1 }),
    /** Every stored version of this account, ascending; verification uses the last. */
    versions: Type.Array(Type.Integer({ minimum: 1 })),
    enrollmentId: Type.String(),
    createdAt: Type.String({ format: 'date-time' }),
    ...ModelSummarySchema.properties,
  },
  { $id: 'BiometricModel' },
);
export type ModelView = Static<typeof ModelView>;

export const ModelDeleted = Type.Object({
  deletedVersions: Type.Integer({ minimum: 0 }),
  deletedEnrollments: Type.Integer({ minimum: 0 }),
});
export type ModelDeleted = Static<typeof ModelDeleted>;

export { VerificationSummarySchema as VerifyReply };
/** The operator's evaluation view: per-window `score` and `accepted`, the mean score and threshold. */
export { VerificationResultSchema as AdminVerifyReply };

export const AccountIdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) }, { additionalProperties: false });
