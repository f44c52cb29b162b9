import { VigilError } from '../../../protocol/errors.ts';
import type { ReadyModel } from '../../../protocol/messages.ts';
import type { ChannelConnection, ChannelHooks, StreamSink, StreamSpec } from '../../realtime/channel-hooks.ts';
import type { ReplayIndexes } from '../assurance/replay-index.ts';
import type { SessionTrustStore } from '../assurance/session-trust.ts';
import type { TrustConfig } from '../trust.ts';
import { ContinuousConnection } from './continuous-connection.ts';
import type { SessionStandings } from './session-standing.ts';
import type { ContinuousMetrics } from './continuous-metrics.ts';
import type { EvidencePolicy } from './evidence-policy.ts';
import type { LiveModels } from './live-models.ts';
import { SocketEnrolment, enrolmentSpec, type EnrolmentEnv } from './socket-enrolment.ts';
import { StreamVerifier, channelMapping, type VerifierEnv } from './stream-verifier.ts';
import type { TrustPolicy } from './trust-policy.ts';

export interface ContinuousHooksEnv {
  models: LiveModels;
  policy: TrustPolicy;
  /** Whether the session keeps producing scored windows. */
  evidence: EvidencePolicy;
  verifier: VerifierEnv;
  enrolment: EnrolmentEnv;
  metrics: ContinuousMetrics;
  trust: TrustConfig;
  /** The session's trust and owed step-up, shared by its sockets and streams. */
  sessionTrust: SessionTrustStore;
  /** Where each session with a socket on this process stands. */
  standings: SessionStandings;
  replay: ReplayIndexes;
}

function stateOf(conn: ChannelConnection): ContinuousConnection | undefined {
  return conn.attachment instanceof ContinuousConnection ? conn.attachment : undefined;
}

/**
 * Continuous verification as the realtime channel's hooks: the user's model is loaded when the
 * socket authenticates (and named in `ready`), verification streams need it and must match its
 * rate and channels, enrolment streams work without one, and `stepup` goes to the policy.
 */
export function continuousHooks(env: ContinuousHooksEnv): ChannelHooks {
  const { models, policy, metrics, evidence } = env;
  const { standings } = env;
  return {
    async onAuthenticated(conn): Promise<ReadyModel | null> {
      const { userId, sessionId } = conn.principal;
      const [model, owed, trust, evidenceDue] = await Promise.all([
        models.current(userId),
        policy.owedStepUp(sessionId),
        env.sessionTrust.trust(sessionId),
        evidence.dueOf(userId, sessionId),
      ]);
      const state = new ContinuousConnection(conn, model, trust, env.trust.initial);
      state.replay = env.replay.enabled ? env.replay.open(userId) : undefined;
      state.storedEvidenceDue = evidenceDue;
      state.owedStepUp = owed;
      conn.attachment = state;
      return model?.ready ?? null;
    },

    onReady(conn) {
      const state = stateOf(conn);
      if (!state) return;
      state.ready = true;
      // Held from here, not at authentication: an upgrade abandoned before `ready` never disconnects.
      state.standing = standings.hold(state, state.storedTrust);
      // Watched only with a model to stream against: otherwise there is nothing to show.
      if (state.model) evidence.held(state.standing, state.storedEvidenceDue);
      models.hold(state, state.model);
      policy.onReady(state);
    },

    openStream(conn, spec: StreamSpec): StreamSink {
      const state = stateOf(conn);
      if (!state) throw new VigilError('STREAM_REFUSED', { reason: 'continuous verification is not ready for this socket' });
      if (spec.purpose === 'enroll') {
        // A socket asked to prove itself must not replace the model it is failing against.
        const owed = state.stepUp ?? state.owedStepUp;
        if (owed) throw new VigilError('BIOMETRIC_STEPUP_OWED', { reason: owed.reason });
        // Admission before allocation: the spec's size, one enrolment per socket, a process-wide cap.
        enrolmentSpec(spec);
        for (const open of state.streams) {
          if (open instanceof SocketEnrolment)
            throw new VigilError('STREAM_REFUSED', { reason: 'one enrolment per connection at a time' });
        }
        const { admission } = env.enrolment;
        if (admission.open >= admission.max) {
          throw new VigilError('STREAM_REFUSED', { reason: 'too many socket enrolments on this gateway; retry shortly' });
        }
        const enrolment = new SocketEnrolment(state, spec, env.enrolment);
        admission.open++;
        state.streams.add(enrolment);
        metrics.streams.inc({ purpose: 'enroll' });
        return enrolment;
      }
      const model = state.model;
      // No model yet: the socket can enrol (enroll.begin) but has nothing to verify against.
      if (!model) throw new VigilError('BIOMETRIC_MODEL_MISSING');
      channelMapping(spec, model); // SAMPLES_SPEC_MISMATCH when rate or channels differ
      // Its first window adds to where the session stands now, on whichever process it moved.
      state.standing?.refresh();
      const verifier = new StreamVerifier(state, spec, model, env.verifier);
      state.streams.add(verifier);
      metrics.streams.inc({ purpose: 'verify' });
      return verifier;
    },

    onControl(conn, message) {
      const state = stateOf(conn);
      if (state) policy.onStepUp(state, message);
    },

    onDisconnect(conn) {
      const state = stateOf(conn);
      if (!state) return;
      state.disconnect();
      models.release(state);
      policy.onDisconnect(state);
      if (state.standing) {
        evidence.releasing(state.standing);
        standings.release(state.standing, state);
      }
      state.replay?.flush();
    },
  };
}
