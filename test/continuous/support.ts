import { encodeFrame } from '../../protocol/frames.ts';
import type { ServerMessageOf } from '../../protocol/messages.ts';
import type { BiometricService } from '../../src/biometrics/biometric-service.ts';
import type { ContinuousModule } from '../../src/biometrics/continuous/continuous-module.ts';
import { windowLlr } from '../../src/biometrics/calibration.ts';
import { extractWindows } from '../../src/biometrics/features/extract-windows.ts';
import { scoreOnnx } from '../../src/biometrics/onnx/onnx-check.ts';
import type { SampleSet } from '../../src/biometrics/samples.ts';
import { TrustAccumulator, type TrustUpdate } from '../../src/biometrics/trust.ts';
import { dataCipher } from '../../src/crypto/data-cipher.ts';
import { ModelStore } from '../../src/biometrics/models/model-store.ts';
import type { TestGateway } from '../support/gateway.ts';
import { moduleOf } from '../support/modules.ts';
import type { TestSocket } from '../realtime/support.ts';
import { SPEC, enrolmentPart } from './wisdm.ts';

export function biometricsOf(gw: TestGateway): BiometricService {
  return moduleOf(gw, 'biometrics').service;
}

export function continuousOf(gw: TestGateway): ContinuousModule {
  return moduleOf(gw, 'continuous');
}

/**
 * Enrols `userId` with a WISDM subject's enrolment part through the real service (stored in
 * Mongo, trained by the BullMQ worker thread) and waits for the model.
 */
export async function enrolSubject(gw: TestGateway, userId: string, subject: string): Promise<number> {
  const service = biometricsOf(gw);
  const accepted = await service.enroll(userId, await enrolmentPart(subject), { source: 'http', modality: SPEC.modality });
  const view = await service.waitForEnrollment(userId, accepted.enrollmentId, 120_000);
  if (view.status !== 'ready' || view.modelVersion === undefined)
    throw new Error(`enrolment of ${subject} ended ${JSON.stringify(view)}`);
  return view.modelVersion;
}

/** What the stored model must produce for a stream: every window's score and the trust after it. */
/** Three people whose enrolments form the cohort later models are trained against (the tests' usual). */
export async function enrolCohort(gw: TestGateway): Promise<void> {
  for (const subject of ['1600', '1601', '1602']) await enrolSubject(gw, `cohort-${subject}-${process.pid}`, subject);
}

export interface Expected {
  scores: Float32Array;
  /** Most evidence one window carries: min(maxStep, the calibration's clamp). */
  step: number;
  llrs: number[];
  trust: TrustUpdate[];
}

/**
 * The user's latest stored model (ONNX bytes from Mongo) scoring `data` in-process, and the trust
 * a fresh accumulator with the model's calibration reaches window by window (from `initial`).
 */
export async function expectedFor(gw: TestGateway, userId: string, data: SampleSet, initial?: number): Promise<Expected> {
  const active = await biometricsOf(gw).activeModel(userId);
  const store = new ModelStore(gw.gateway.mongo.db, dataCipher(gw.config));
  const onnx = await store.onnx((await store.latest(userId))!._id);
  const scores = await scoreOnnx(onnx!, extractWindows(data, active.spec).features);
  const accumulator = new TrustAccumulator(active.calibration);
  if (initial !== undefined) accumulator.reset(initial);
  return {
    scores,
    step: accumulator.step,
    llrs: Array.from(scores, (s) => windowLlr(active.calibration, s)),
    trust: Array.from(scores, (s) => accumulator.update(s)),
  };
}

/**
 * Sends `data` as binary frames of `frame` samples (timestamps at the real rate), from sequence
 * `seq`. Returns the next seq. By default the samples are a recording that ended just now: sent
 * at once, their timestamps never run ahead of arrival (replay detection would flag that).
 */
export function sendSamples(
  socket: TestSocket,
  stream: number,
  data: SampleSet,
  seq: number,
  frame = 25,
  t0 = Date.now() - (data.length * 1000) / data.rate,
): number {
  const c = data.channels.length;
  for (let at = 0; at < data.length; at += frame) {
    const count = Math.min(frame, data.length - at);
    socket.ws.send(
      encodeFrame({
        stream,
        seq: seq++,
        timestamp: t0 + (at * 1000) / data.rate,
        channels: c,
        values: data.data.subarray(at * c, (at + count) * c),
      }),
    );
  }
  return seq;
}

/** Reads verdicts of `stream` until `count` arrived (other messages are collected, not dropped). */
export async function verdicts(
  socket: TestSocket,
  count: number,
  timeoutMs = 20_000,
): Promise<Array<ServerMessageOf<'verdict'>>> {
  const out: Array<ServerMessageOf<'verdict'>> = [];
  const deadline = Date.now() + timeoutMs;
  while (out.length < count) out.push(await socket.until('verdict', Math.max(1, deadline - Date.now())));
  return out;
}

/** Waits until `check` holds (polling), or fails with `what`. */
export async function eventually(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** A histogram's sum and count from the gateway's /metrics. */
export async function histogram(url: string, name: string): Promise<{ sum: number; count: number }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const read = (suffix: string) => Number(new RegExp(`^${name}_${suffix} ([0-9.e+-]+)$`, 'm').exec(text)?.[1] ?? Number.NaN);
  return { sum: read('sum'), count: read('count') };
}
