import type { RequestInfo } from '../server/http/route.ts';
import type { Principal } from '../sessions/principal.ts';
import type { RequestMeta } from './account-service.ts';

/** What the audit trail and rate limits need from a request: never secrets. */
export function metaOf(info: RequestInfo, principal?: Principal): RequestMeta {
  const meta: RequestMeta = { ip: info.ip };
  const agent = info.headers['user-agent'];
  if (agent) meta.userAgent = agent.slice(0, 256);
  const device = info.headers['x-device-id'];
  if (device) meta.deviceId = device.slice(0, 128);
  if (principal) meta.sessionId = principal.sessionId;
  return meta;
}
