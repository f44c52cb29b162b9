/** Who is calling, as established from a verified access token whose session is still live. */
export interface Principal {
  userId: string;
  sessionId: string;
  /** The access token's jti. */
  tokenId: string;
  /** Access token expiry, epoch seconds. */
  expiresAt: number;
}
