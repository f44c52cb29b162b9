import type { GatewayContext } from '../../server/context.ts';
import type { GatewayModule } from '../../server/gateway-module.ts';
import type { LegacyDeps } from '../shared/legacy-deps.ts';
import { cAdminRoutes } from './c-admin-routes.ts';
import { Catalogue } from './catalogue.ts';
import { CProfiles } from './c-profiles.ts';
import { cAccountRoutes } from './c-routes.ts';
import { cUploadRoutes } from './c-upload-routes.ts';
import { mediaUrls } from './c-views.ts';
import { parseS3Url, type S3Target } from './uploads/s3-presign.ts';
import { UploadStore } from './uploads/upload-store.ts';
import { ConfigError } from '../../config/config.ts';

const SWEEP_INTERVAL_MS = 3600 * 1000;

/**
 * Dialect C (shared/seeds/C): registration with a full profile (catalogue objects, uploaded
 * images), SMS login, refresh, logout; sign-s3 uploads; the operator's catalogue admin API.
 */
export function dialectC(ctx: GatewayContext, deps: LegacyDeps): GatewayModule {
  const { config, mongo, logger } = ctx;
  let s3: S3Target | undefined;
  try {
    s3 = config.VIGIL_LEGACY_C_S3_URL ? parseS3Url(config.VIGIL_LEGACY_C_S3_URL) : undefined;
  } catch (err) {
    throw new ConfigError([(err as Error).message]);
  }
  const catalogue = new Catalogue(mongo.db);
  const profiles = new CProfiles(mongo.db);
  const uploads = new UploadStore(mongo.db, {
    s3,
    publicUrl: config.VIGIL_PUBLIC_URL,
    maxBytes: config.VIGIL_LEGACY_C_UPLOAD_MAX_BYTES,
    logger,
  });
  const media = mediaUrls(config.VIGIL_LEGACY_C_MEDIA_URL, config.VIGIL_PUBLIC_URL);

  // A withdrawn account's C profile and files (identity documents among them) go with it.
  deps.identity.accounts.onWithdrawn(async ({ account }) => {
    await profiles.remove(account.id);
    await uploads.removeForUser(account.id);
  });

  let sweeper: NodeJS.Timeout | undefined;
  return {
    name: 'legacy-c',
    routes: [
      ...cAccountRoutes({
        ...deps,
        audit: ctx.audit,
        rateLimiter: ctx.rateLimiter,
        signupPerIpHourly: config.VIGIL_SIGNUP_PER_IP_HOURLY,
        catalogue,
        profiles,
        uploads,
        media,
      }),
      ...cUploadRoutes({ uploads, rateLimiter: ctx.rateLimiter, maxBytes: config.VIGIL_LEGACY_C_UPLOAD_MAX_BYTES }),
      ...cAdminRoutes({ catalogue, admin: ctx.admin, audit: ctx.audit }),
    ],
    async start() {
      await catalogue.ensureIndexes();
      await profiles.ensureIndexes();
      await uploads.start();
      sweeper = setInterval(() => {
        uploads.sweep().catch((err: unknown) => logger.warn({ err }, 'sweeping unclaimed uploads failed'));
      }, SWEEP_INTERVAL_MS);
      sweeper.unref();
    },
    async close() {
      if (sweeper) clearInterval(sweeper);
    },
  };
}
