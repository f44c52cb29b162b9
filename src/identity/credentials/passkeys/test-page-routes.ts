import type { Route } from '../../../server/http/route.ts';
import { staticPageRoutes } from '../../../server/http/static-pages.ts';

/**
 * /test/passkeys: a page that runs both ceremonies in a real browser against this gateway (the
 * browser test drives it with a virtual authenticator). Mounted only with VIGIL_WEBAUTHN_TEST_PAGE,
 * which the configuration refuses unless NODE_ENV=test or development is set explicitly.
 */
export function passkeyTestPageRoutes(): Route[] {
  return staticPageRoutes(
    [
      { path: '/test/passkeys', type: 'text/html; charset=utf-8', file: new URL('./test-page/passkeys.html', import.meta.url) },
      {
        path: '/test/passkeys/app.js',
        type: 'text/javascript; charset=utf-8',
        file: new URL('./test-page/passkeys.js', import.meta.url),
      },
    ],
    'Passkey test page (test and development runs only)',
    "default-src 'none'; script-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  );
}
