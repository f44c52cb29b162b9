import type { Config } from '../src/config/schema.ts';

/** The settings a training child process needs, passed as JSON in this environment variable. */
export const TRAINING_SETTINGS_ENV = 'VIGIL_TRAINING_SETTINGS';

export type TrainingSettings = Pick<
  Config,
  | 'MONGO_URL'
  | 'MONGO_DB'
  | 'VIGIL_BIOMETRIC_COHORT_MEMBERS'
  | 'VIGIL_BIOMETRIC_DETECTOR'
  | 'VIGIL_BIOMETRIC_ROWS_DETECTOR'
  | 'VIGIL_BIOMETRIC_BACKGROUND'
  | 'VIGIL_BIOMETRIC_KEYS'
  | 'VIGIL_BIOMETRIC_COHORT_VETTING'
  | 'VIGIL_BIOMETRIC_COHORT_MIN_ACCOUNT_AGE_SECONDS'
  | 'VIGIL_BIOMETRIC_COHORT_PER_SIGNUP_IP_DAILY'
>;

export function trainingSettings(config: Config): TrainingSettings {
  return {
    MONGO_URL: config.MONGO_URL,
    MONGO_DB: config.MONGO_DB,
    VIGIL_BIOMETRIC_COHORT_MEMBERS: config.VIGIL_BIOMETRIC_COHORT_MEMBERS,
    VIGIL_BIOMETRIC_DETECTOR: config.VIGIL_BIOMETRIC_DETECTOR,
    VIGIL_BIOMETRIC_ROWS_DETECTOR: config.VIGIL_BIOMETRIC_ROWS_DETECTOR,
    VIGIL_BIOMETRIC_BACKGROUND: config.VIGIL_BIOMETRIC_BACKGROUND,
    // Already in this process's environment in production; tests configure it in-process.
    VIGIL_BIOMETRIC_KEYS: config.VIGIL_BIOMETRIC_KEYS,
    VIGIL_BIOMETRIC_COHORT_VETTING: config.VIGIL_BIOMETRIC_COHORT_VETTING,
    VIGIL_BIOMETRIC_COHORT_MIN_ACCOUNT_AGE_SECONDS: config.VIGIL_BIOMETRIC_COHORT_MIN_ACCOUNT_AGE_SECONDS,
    VIGIL_BIOMETRIC_COHORT_PER_SIGNUP_IP_DAILY: config.VIGIL_BIOMETRIC_COHORT_PER_SIGNUP_IP_DAILY,
  };
}

/** In the child: the settings its parent passed. */
export function inheritedTrainingSettings(): TrainingSettings {
  const json = process.env[TRAINING_SETTINGS_ENV];
  if (!json) {
    throw new Error(`${TRAINING_SETTINGS_ENV} is not set: the training processor runs only as a child of the training worker`);
  }
  return JSON.parse(json) as TrainingSettings;
}
