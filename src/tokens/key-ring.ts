import type { RedisClient } from '../storage/redis.ts';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from 'jose';
import { VigilError } from '../../protocol/errors.ts';
import type { Logger } from '../observability/logger.ts';
import type { SigningKeyStore, StoredSigningKey } from './signing-key-store.ts';

/** A verification key as the ring holds it: imported once, looked up by `kid` on every verify. */
interface RingKey {
  kid: string;
  publicJwk: JWK;
  publicKey: CryptoKey;
  /** Epoch ms after which tokens signed with it no longer verify; undefined while it is current. */
  verifyUntil: number | undefined;
}

/** What a key source yields: the signing key first, then every key that may still verify. */
interface KeySnapshot {
  signing: { kid: string; privateJwk: JWK };
  keys: Array<{ kid: string; publicJwk: JWK; verifyUntil: number | undefined }>;
}

interface KeySource {
  readonly rotatable: boolean;
  load(): Promise<KeySnapshot>;
  /** Starts signing with a fresh key; earlier keys verify until the grace period ends. */
  rotate?(): Promise<void>;
}

export interface JsonWebKeySet {
  keys: Array<JWK & { kid: string; alg: 'EdDSA'; use: 'sig' }>;
}

// Bumped by whichever process rotates; every process polls it (a GET per poll) and reloads
// from MongoDB when it moves, so a rotation reaches every node without a restart.
const VERSION_KEY = 'jwt:keys:version';

/**
 * The Ed25519 keys of this gateway: the one that signs now and every one whose tokens still
 * verify. Keys come from VIGIL_JWT_PRIVATE_KEYS or from MongoDB (generated on first start,
 * rotated by `rotate()`); either way each is imported once and reused for every token.
 */
export class KeyRing {
  private keys = new Map<string, RingKey>();
  private signing: { kid: string; key: CryptoKey } | undefined;
  /** CryptoKeys by kid (public) and `d:`+kid (private), so a reload never imports a key twice. */
  private readonly imported = new Map<string, CryptoKey>();
  private version: string | null | undefined;
  private timer: NodeJS.Timeout | undefined;
  private reloading: Promise<void> | undefined;
  private lastUnknownKidReload = 0;
  private readonly listeners = new Set<() => void>();

  private constructor(
    private readonly source: KeySource,
    private readonly redis: RedisClient,
    private readonly logger: Logger,
    private readonly pollMs: number,
  ) {}

  /** Keys from VIGIL_JWT_PRIVATE_KEYS: a JWK set of private Ed25519 keys; the first signs. */
  static fromConfig(jwksJson: string, redis: RedisClient, logger: Logger): KeyRing {
    return new KeyRing(configSource(jwksJson), redis, logger, 0);
  }

  /** Keys generated into MongoDB on first start and rotated there. */
  static fromStore(
    store: SigningKeyStore,
    redis: RedisClient,
    logger: Logger,
    options: { graceSeconds: number; pollMs: number },
  ): KeyRing {
    return new KeyRing(storeSource(store, options.graceSeconds), redis, logger, options.pollMs);
  }

  get rotatable(): boolean {
    return this.source.rotatable;
  }

  async start(): Promise<void> {
    this.version = await this.redis.get(VERSION_KEY);
    await this.reload();
    if (this.pollMs > 0) {
      this.timer = setInterval(() => void this.poll(), this.pollMs);
      this.timer.unref();
    }
  }

  close(): void {
    clearInterval(this.timer);
  }

  /** Called after the key set changed (a rotation here or elsewhere); caches keyed on keys drop. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The key new tokens are signed with. */
  signingKey(): { kid: string; key: CryptoKey } {
    if (!this.signing) throw new Error('KeyRing.start() has not run');
    return this.signing;
  }

  /**
   * The public key for `kid`, or the catalogued reason there is none. An unknown kid may have
   * been minted by a node that rotated a moment ago, so it triggers one throttled reload.
   */
  async verificationKey(kid: string | undefined, now = Date.now()): Promise<CryptoKey> {
    if (kid === undefined) throw new VigilError('TOKEN_KID_UNKNOWN', { kid: '(none)' });
    let key = this.keys.get(kid);
    if (!key && this.source.rotatable && now - this.lastUnknownKidReload > 1_000) {
      this.lastUnknownKidReload = now;
      await this.reload();
      key = this.keys.get(kid);
    }
    if (!key) throw new VigilError('TOKEN_KID_UNKNOWN', { kid: kid.slice(0, 64) });
    if (key.verifyUntil !== undefined && now >= key.verifyUntil) throw new VigilError('TOKEN_KEY_RETIRED', { kid });
    return key.publicKey;
  }

  /** Epoch ms at which tokens of `kid` stop verifying (rotation grace), undefined if no end is set. */
  verifyUntil(kid: string | undefined): number | undefined {
    return kid === undefined ? undefined : this.keys.get(kid)?.verifyUntil;
  }

  /** Every key that verifies now, for GET /.well-known/jwks.json. */
  jwks(now = Date.now()): JsonWebKeySet {
    const keys: JsonWebKeySet['keys'] = [];
    for (const key of this.keys.values()) {
      if (key.verifyUntil !== undefined && now >= key.verifyUntil) continue;
      keys.push({ kty: key.publicJwk.kty, crv: key.publicJwk.crv, x: key.publicJwk.x, kid: key.kid, alg: 'EdDSA', use: 'sig' });
    }
    return { keys };
  }

  /** Rotates the signing key (MongoDB-backed keys only) and tells every process. */
  async rotate(): Promise<{ kid: string }> {
    if (!this.source.rotate) throw new VigilError('SIGNING_KEYS_FROM_CONFIG');
    await this.source.rotate();
    this.version = String(await this.redis.incr(VERSION_KEY));
    await this.reload();
    return { kid: this.signingKey().kid };
  }

  /** Reloads now (tests, and the unknown-kid path); concurrent callers share one load. */
  reload(): Promise<void> {
    this.reloading ??= this.load().finally(() => {
      this.reloading = undefined;
    });
    return this.reloading;
  }

  private async poll(): Promise<void> {
    try {
      const version = await this.redis.get(VERSION_KEY);
      if (version === this.version) return;
      this.version = version;
      await this.reload();
      this.logger.info({ kid: this.signing?.kid }, 'signing keys reloaded');
    } catch (err) {
      this.logger.warn({ err: (err as Error).message }, 'signing key poll failed; keeping the current keys');
    }
  }

  private async load(): Promise<void> {
    const snapshot = await this.source.load();
    const keys = new Map<string, RingKey>();
    for (const key of snapshot.keys) {
      keys.set(key.kid, { ...key, publicKey: await this.importOnce(key.kid, key.publicJwk) });
    }
    const signing = {
      kid: snapshot.signing.kid,
      key: await this.importOnce(`d:${snapshot.signing.kid}`, snapshot.signing.privateJwk),
    };
    const changed = signing.kid !== this.signing?.kid || !sameKeys(keys, this.keys);
    this.keys = keys;
    this.signing = signing;
    if (changed) for (const listener of this.listeners) listener();
  }

  private async importOnce(id: string, jwk: JWK): Promise<CryptoKey> {
    let key = this.imported.get(id);
    if (!key) {
      key = (await importJWK({ ...jwk, alg: 'EdDSA' }, 'EdDSA', { extractable: false })) as CryptoKey;
      this.imported.set(id, key);
    }
    return key;
  }
}

function sameKeys(a: Map<string, RingKey>, b: Map<string, RingKey>): boolean {
  if (a.size !== b.size) return false;
  for (const [kid, key] of a) if (b.get(kid)?.verifyUntil !== key.verifyUntil) return false;
  return true;
}

/** A fresh Ed25519 pair as JWKs, with its RFC 7638 thumbprint as kid. */
export async function generateSigningJwk(): Promise<{ kid: string; publicJwk: JWK; privateJwk: JWK }> {
  const { publicKey, privateKey } = await generateKeyPair('Ed25519', { extractable: true });
  const publicJwk = await exportJWK(publicKey);
  const privateJwk = await exportJWK(privateKey);
  const kid = await calculateJwkThumbprint(publicJwk);
  return { kid, publicJwk: { ...publicJwk, kid }, privateJwk: { ...privateJwk, kid } };
}

function configSource(json: string): KeySource {
  const problem = (reason: string) => new Error(`VIGIL_JWT_PRIVATE_KEYS ${reason}`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    throw problem('is not JSON (expected {"keys":[{kty:"OKP",crv:"Ed25519",d,x,kid}, …]})');
  }
  const list = (parsed as { keys?: unknown }).keys;
  if (!Array.isArray(list) || list.length === 0) throw problem('must be a JWK set with at least one key in "keys"');
  const keys = list.map((entry: unknown, index) => {
    const jwk = entry as JWK;
    if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || typeof jwk.x !== 'string' || typeof jwk.d !== 'string') {
      throw problem(`keys[${index}] must be a private Ed25519 JWK (kty OKP, crv Ed25519, x and d)`);
    }
    return jwk;
  });
  return {
    rotatable: false,
    async load() {
      const withKids = await Promise.all(
        keys.map(async (jwk) => ({
          ...jwk,
          kid: jwk.kid ?? (await calculateJwkThumbprint({ kty: 'OKP', crv: 'Ed25519', x: jwk.x })),
        })),
      );
      const first = withKids[0]!;
      return {
        signing: { kid: first.kid, privateJwk: first },
        keys: withKids.map((jwk) => ({
          kid: jwk.kid,
          publicJwk: { kty: 'OKP', crv: 'Ed25519', x: jwk.x },
          verifyUntil: undefined,
        })),
      };
    },
  };
}

function storeSource(store: SigningKeyStore, graceSeconds: number): KeySource {
  return {
    rotatable: true,
    async load() {
      let docs = await store.latest();
      if (docs.length === 0) {
        // First start. Two gateways starting together both try key number 1; one insert wins
        // and the other simply loads the winner's key.
        await store.insert(1, await generateSigningJwk());
        docs = await store.latest();
      }
      return snapshotOf(store, docs);
    },
    async rotate() {
      const [newest] = await store.latest(1);
      const seq = (newest?._id ?? 0) + 1;
      const key = await generateSigningJwk();
      // A concurrent rotation that took this number first is as good as ours.
      if (await store.insert(seq, { ...key, previousVerifyUntil: new Date(Date.now() + graceSeconds * 1000) })) {
        await store.forgetPrivateKeysBefore(seq);
      }
    },
  };
}

function snapshotOf(store: SigningKeyStore, docs: StoredSigningKey[]): KeySnapshot {
  const newest = docs[0]!;
  const privateJwk = store.privateJwkOf(newest);
  if (!privateJwk) throw new Error(`The newest signing key ${newest.kid} has no private key in MongoDB`);
  // A key verifies until its successor's previousVerifyUntil, and never longer than its successor.
  const keys: KeySnapshot['keys'] = [];
  let until: number | undefined;
  docs.forEach((doc, index) => {
    if (index > 0) {
      const successorSays = docs[index - 1]!.previousVerifyUntil?.getTime() ?? 0;
      until = until === undefined ? successorSays : Math.min(until, successorSays);
    }
    keys.push({ kid: doc.kid, publicJwk: doc.publicJwk, verifyUntil: until });
  });
  return { signing: { kid: newest.kid, privateJwk }, keys };
}
