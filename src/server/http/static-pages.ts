import { readFileSync } from 'node:fs';
import { Type } from '@sinclair/typebox';
import { defineRoute, type Route } from './route.ts';

/** A page's file: where it is served, its media type, and where it lies on disk. */
export interface PageFile {
  path: string;
  type: string;
  file: URL;
}

/**
 * Static files of a same-origin page (the operator console, the passkey test page), read once at
 * start and served with a strict CSP (scripts and connections only from this origin), never framed,
 * never cached.
 */
export function staticPageRoutes(files: readonly PageFile[], summary: string, csp: string): Route[] {
  const headers = {
    'content-security-policy': csp,
    'x-frame-options': 'DENY',
    'referrer-policy': 'no-referrer',
    'cache-control': 'no-store',
  };
  return files.map((page) => {
    const body = readFileSync(page.file, 'utf8');
    return defineRoute({
      method: 'GET',
      path: page.path,
      summary,
      produces: page.type,
      hidden: true,
      schema: { response: { 200: Type.String() } },
    }).handle(async () => ({ status: 200 as const, body, headers }));
  });
}
