/** A reply read loosely on purpose: each test asserts the fields it depends on. */
export interface JsonReply {
  status: number;
  body: Record<string, any>;
}

/** A JSON request to the gateway at `baseUrl()` (read at call time: gateways start in beforeAll), with an optional bearer token. */
export function jsonCaller(baseUrl: () => string) {
  return async (method: string, path: string, body?: unknown, token?: string): Promise<JsonReply> => {
    const res = await fetch(`${baseUrl()}${path}`, {
      method,
      headers: {
        ...(body ? { 'content-type': 'application/json' } : {}),
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      body: body ? JSON.stringify(body) : undefined,
    });
    return { status: res.status, body: (await res.json()) as Record<string, any> };
  };
}
