import { slice, toCsv, walking } from '../../biometrics/support.ts';

/**
 * Real enrolment data (WISDM watch accelerometer, walking, 20 Hz): 75 s of one subject as CSV,
 * enough windows for a model. `index` picks the subject, so accounts enrol different people.
 */
export async function enrolmentCsv(index: number): Promise<string> {
  const subjects = [...(await walking()).values()];
  const samples = subjects[index % subjects.length]!;
  return toCsv(slice(samples, 0, 1500));
}

export interface EnrolmentView {
  enrollmentId: string;
  status: 'open' | 'queued' | 'training' | 'ready' | 'failed';
  modelVersion?: number;
  error?: { code: string; message: string };
}

/**
 * POST /v1/biometrics/enrollments (train now); resolves with the acknowledged enrolment id.
 * Replacing an existing model re-enters the `password` (Vigil-Reauth).
 */
export async function enrol(url: string, accessToken: string, csv: string, password?: string): Promise<string> {
  const reauth = password === undefined ? {} : { 'vigil-reauth': `password ${Buffer.from(password).toString('base64')}` };
  const res = await fetch(`${url}/v1/biometrics/enrollments?rate=20&modality=motion`, {
    method: 'POST',
    headers: { 'content-type': 'text/csv', authorization: `Bearer ${accessToken}`, ...reauth },
    body: csv,
  });
  const body = (await res.json()) as { enrollmentId?: string };
  if (res.status !== 202 || !body.enrollmentId) throw new Error(`enrolment answered ${res.status}: ${JSON.stringify(body)}`);
  return body.enrollmentId;
}

export async function enrolment(url: string, accessToken: string, id: string): Promise<EnrolmentView | undefined> {
  const res = await fetch(`${url}/v1/biometrics/enrollments/${id}`, { headers: { authorization: `Bearer ${accessToken}` } });
  return res.status === 200 ? ((await res.json()) as EnrolmentView) : undefined;
}
