import { Validator } from '@seriousme/openapi-schema-validator';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.ts';
import { enabledDialects } from '../../src/legacy/shared/dialects.ts';
import { startLegacyGateway } from './support.ts';

// VIGIL_LEGACY_DIALECTS switches each dialect on or off; all five together still make one valid
// route table and OpenAPI document.
describe('VIGIL_LEGACY_DIALECTS', () => {
  it('parses a comma list; the config refuses anything but a–e', () => {
    expect([...enabledDialects('a,c,e')]).toEqual(['a', 'c', 'e']);
    expect(enabledDialects('').size).toBe(0);
    expect(() => loadConfig({ VIGIL_LEGACY_DIALECTS: 'a,x' })).toThrow(/VIGIL_LEGACY_DIALECTS/);
    expect(loadConfig({}).VIGIL_LEGACY_DIALECTS).toBe('');
  });

  it('all five at once: every documented path is served and the OpenAPI document is valid', async () => {
    const gw = await startLegacyGateway('a,b,c,d,e');
    try {
      const doc = (await (await fetch(`${gw.url}/openapi.json`)).json()) as { paths: Record<string, unknown> };
      const result = await new Validator().validate(doc);
      expect(result.errors ?? []).toEqual([]);
      expect(Object.keys(doc.paths)).toEqual(
        expect.arrayContaining([
          '/server/members/create/',
          '/server/members/login/',
          '/server/members/logout/',
          '/api/auth/sign-up',
          '/api/auth/sign-in',
          '/api/auth/withdrawal',
          '/api/auth/check/auth-id/{authId}',
          '/api/auth/check/email/{email}',
          '/api/auth/send/auth-key',
          '/api/auth/check/auth-code',
          '/api/auth/reset/password',
          '/api/registration/',
          '/api/auth/mobile/',
          '/api/token/',
          '/api/token/refresh/',
          '/api/logout/',
          '/api/sign-s3/',
          '/auth/authentiaction/',
          '/token/',
          '/token/validate/',
          '/token/refresh/',
          '/api/v1/auth/exists',
          '/api/v1/auth/signup',
          '/api/v1/auth/signin',
          '/api/v1/auth/sms_auth_req',
          '/api/v1/auth/sms_auth_res',
          '/api/v1/auth/num_find',
          '/api/v1/auth/password_change',
        ]),
      );
    } finally {
      await gw.close();
    }
  });

  it('a dialect that is off is not there', async () => {
    const gw = await startLegacyGateway('e');
    try {
      expect((await fetch(`${gw.url}/api/auth/sign-in`, { method: 'POST' })).status).toBe(404);
      expect((await fetch(`${gw.url}/server/members/logout/`)).status).toBe(404);
      expect(
        (
          await fetch(`${gw.url}/api/v1/auth/exists`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: '{"num":"01011112222"}',
          })
        ).status,
      ).toBe(200);
    } finally {
      await gw.close();
    }
  });
});
