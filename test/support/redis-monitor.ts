import { connect, type Socket } from 'node:net';

/**
 * Redis's MONITOR on a raw socket: every command any client sends, one line each. A client
 * library's monitor mode can lose track of its replies when a busy server streams commands at it
 * before MONITOR is acknowledged; a line reader cannot.
 */
export class RedisMonitor {
  private buffered = '';
  private constructor(
    private readonly socket: Socket,
    private readonly onLine: (line: string) => void,
  ) {}

  /** Resolves once the server acknowledged MONITOR: every command after that is seen. */
  static async start(redisUrl: string, onLine: (line: string) => void): Promise<RedisMonitor> {
    const url = new URL(redisUrl);
    const socket = connect(Number(url.port || 6379), url.hostname);
    const monitor = new RedisMonitor(socket, onLine);
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.once('connect', () => socket.write('MONITOR\r\n'));
      socket.on('data', (chunk: Buffer) => {
        monitor.buffered += chunk.toString('utf8');
        let end: number;
        while ((end = monitor.buffered.indexOf('\r\n')) >= 0) {
          const line = monitor.buffered.slice(0, end);
          monitor.buffered = monitor.buffered.slice(end + 2);
          if (line === '+OK') resolve();
          else monitor.onLine(line);
        }
      });
    });
    return monitor;
  }

  stop(): void {
    this.socket.destroy();
  }
}
