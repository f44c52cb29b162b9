import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

export interface AcceptedMail {
  to: string[];
  raw: string;
}

/**
 * A real SMTP server that can hold the final answer to DATA, so a test can kill the sender while
 * a message is in flight. A held message whose session ends before it is released was never
 * acknowledged and is not delivered (SMTP: the server answers 250 only once it took the
 * message); a released one is. `accepted` is what a mailbox would show.
 */
export async function startHoldingSmtp(): Promise<{
  port: number;
  accepted: AcceptedMail[];
  /** Messages whose DATA arrived, acknowledged or not. */
  received: () => number;
  hold(on: boolean): void;
  /** Answers every held message (dropped if its client is gone); returns how many (to `to`) were delivered. */
  release(to?: string): number;
  /** Held messages (to `to`, if given). */
  held: (to?: string) => number;
  /** Held messages whose client has gone (to `to`, if given). */
  orphaned: (to?: string) => number;
  close(): Promise<void>;
}> {
  const accepted: AcceptedMail[] = [];
  let holding = false;
  let received = 0;
  const pending: Array<{ mail: AcceptedMail; gone: () => boolean; answer: () => void }> = [];
  const closedSessions = new Set<string>();
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        received++;
        const mail = { to: session.envelope.rcptTo.map((r) => r.address), raw: Buffer.concat(chunks).toString('utf8') };
        if (!holding) {
          accepted.push(mail);
          callback();
          return;
        }
        pending.push({ mail, gone: () => closedSessions.has(session.id), answer: () => callback() });
      });
    },
    onClose(session) {
      closedSessions.add(session.id);
    },
  });
  // A client killed mid-session resets its connection; that is the point, not a server failure.
  server.on('error', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.server.address() as AddressInfo).port,
    accepted,
    received: () => received,
    hold: (on) => (holding = on),
    release(to) {
      let delivered = 0;
      for (const { mail, gone, answer } of pending.splice(0)) {
        if (gone()) continue;
        accepted.push(mail);
        if (to === undefined || mail.to.includes(to)) delivered++;
        answer();
      }
      return delivered;
    },
    held: (to) => pending.filter((p) => to === undefined || p.mail.to.includes(to)).length,
    orphaned: (to) => pending.filter((p) => p.gone() && (to === undefined || p.mail.to.includes(to))).length,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
