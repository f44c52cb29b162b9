import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** Makes sure the real Redis and MongoDB-wire server are up (idempotent; skipped for external URLs). */
export default function setup(): void {
  const script = fileURLToPath(new URL('../../scripts/services.sh', import.meta.url));
  execFileSync('bash', [script, 'start', '--quiet'], { stdio: 'inherit' });
  // Fault tests run private copies of redis-server and FerretDB, even when the shared ones are external.
  execFileSync('bash', [script, 'tools', '--quiet'], { stdio: 'inherit' });
}
