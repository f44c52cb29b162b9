import { readFileSync } from 'node:fs';
import { Type } from '@sinclair/typebox';
import { defineRoute, type Route } from '../../../server/http/route.ts';

/** Same-origin scripts only: the page's one static file. */
const PAGE_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

const asset = (name: string) => readFileSync(new URL(`./test-page/${name}`, import.meta.url), 'utf8');

/**
 * /test/passkeys: a page that runs both ceremonies in a real browser against this gateway (the
 * browser test drives it with a virtual authenticator). Mounted only with VIGIL_WEBAUTHN_TEST_PAGE,
 * which the configuration refuses unless NODE_ENV=test or development is set explicitly.
 */
export function passkeyTestPageRoutes(): Route[] {
  const files = [
    { path: '/test/passkeys', type: 'text/html; charset=utf-8', body: asset('passkeys.html') },
    { path: '/test/passkeys/app.js', type: 'text/javascript; charset=utf-8', body: asset('passkeys.js') },
  ];
  return files.map((file) =>
    defineRoute({
      method: 'GET',
      path: file.path,
      summary: 'Passkey test page (test and development runs only)',
      produces: file.type,
      hidden: true,
      schema: { response: { 200: Type.String() } },
    }).handle(async () => ({ status: 200 as const, body: file.body, headers: PAGE_HEADERS })),
  );
}
