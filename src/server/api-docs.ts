import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { Type } from '@sinclair/typebox';
import { defineRoute, type Route } from './http/route.ts';

/**
 * GET /docs: the OpenAPI document rendered by Redoc's standalone bundle, served by the gateway
 * itself (no CDN). The bundle comes from the `redoc` npm package (a dev dependency); `npm run
 * build` copies it next to this module, so a pruned production install still has it.
 */
const BUNDLE = 'redoc.standalone.js';

function loadBundle(): string | undefined {
  const copied = fileURLToPath(new URL(`./assets/${BUNDLE}`, import.meta.url));
  if (existsSync(copied)) return readFileSync(copied, 'utf8');
  try {
    return readFileSync(createRequire(import.meta.url).resolve(`redoc/bundles/${BUNDLE}`), 'utf8');
  } catch {
    return undefined;
  }
}

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Vigil API</title>
<link rel="icon" href="data:,">
</head>
<body>
<redoc spec-url="/openapi.json" hide-download-button></redoc>
<script src="/docs/${BUNDLE}"></script>
</body>
</html>
`;

/** Redoc injects its styles (styled-components) and runs search in a blob: worker; nothing leaves the origin. */
const HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; connect-src 'self'; worker-src blob:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
};

export function apiDocsRoutes(): Route[] {
  const bundle = loadBundle();
  if (!bundle) return [];
  return [
    defineRoute({
      method: 'GET',
      path: '/docs',
      summary: 'This API, rendered for people (Redoc over /openapi.json)',
      tags: ['system'],
      produces: 'text/html; charset=utf-8',
      schema: { response: { 200: Type.String() } },
    }).handle(async () => ({ status: 200 as const, body: PAGE, headers: HEADERS })),
    defineRoute({
      method: 'GET',
      path: `/docs/${BUNDLE}`,
      summary: 'The Redoc bundle /docs loads',
      hidden: true,
      produces: 'text/javascript; charset=utf-8',
      schema: { response: { 200: Type.String() } },
    }).handle(async () => ({ status: 200 as const, body: bundle, headers: { 'cache-control': 'public, max-age=86400' } })),
  ];
}
