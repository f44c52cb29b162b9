import type { VerificationResult } from '../../../protocol/biometrics.ts';
import type { EnrollmentAccepted } from '../../../protocol/http/biometrics.ts';
import type { AuditContext } from '../../audit/audit-log.ts';
import type { BiometricService } from '../../biometrics/biometric-service.ts';

/** A file as dialect A's multipart `data` field carries it. */
export interface AFile {
  bytes: Uint8Array;
  contentType?: string;
  filename?: string;
}

/**
 * make_model: enrol a file whose format no document fixes — CSV with a header, CSV of bare
 * numeric columns, or JSON, sniffed (docs/biometrics.md, "Legacy files") — at `defaultRate`
 * (VIGIL_BIOMETRIC_DEFAULT_RATE) when the file states none.
 */
export function enrolAFile(
  biometrics: BiometricService,
  userId: string,
  file: AFile,
  defaultRate: number,
  meta: AuditContext = {},
): Promise<EnrollmentAccepted> {
  return biometrics.enrollUpload(userId, { contentType: '', ...file }, 'untyped', { source: 'legacy-a' }, meta, {
    rate: defaultRate,
  });
}

/** check_user: verify a file in any format make_model accepts against the caller's latest model. */
export function verifyAFile(biometrics: BiometricService, userId: string, file: AFile): Promise<VerificationResult> {
  return biometrics.verifyUpload(userId, { contentType: '', ...file }, 'untyped');
}
