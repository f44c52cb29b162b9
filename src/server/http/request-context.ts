import type { RequestInfo } from './route.ts';
import type { AuditContext } from '../../audit/audit-log.ts';

/**
 * Who is asking, for the audit trail and rate limits: address, user agent, the client's device id
 * and the caller's session. One builder, so every route's audit records have the same shape; never
 * secrets, and bounded so a client cannot grow audit records.
 */
export function requestContext(info: RequestInfo, sessionId?: string): AuditContext {
  const context: AuditContext = { ip: info.ip };
  const agent = info.headers['user-agent'];
  if (agent) context.userAgent = agent.slice(0, 256);
  const device = info.headers['x-device-id'];
  if (device) context.deviceId = device.slice(0, 128);
  if (sessionId) context.sessionId = sessionId;
  return context;
}
