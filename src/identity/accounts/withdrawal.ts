import { VigilError } from '../../../protocol/errors.ts';
import type { AuditLog } from '../../audit/audit-log.ts';
import type { PasswordService } from '../credentials/password-service.ts';
import type { Tickets } from '../codes/tickets.ts';
import type { AccountService, RequestMeta } from './account-service.ts';
import { fieldError } from '../../server/http/field-errors.ts';
import type { IdentitySessions } from '../identity-sessions.ts';

/** Proof that the account holder is present: the current password, or a ticket from a fresh code (purpose withdraw). */
export type WithdrawalProof = { password: string } | { ticket: string };

/**
 * Withdrawal: proves presence, anonymises the account (identifiers, password, profile, devices are
 * removed; the id remains for the audit trail), revokes every session, and lets other concerns
 * drop what they hold for the user (biometric models) through AccountService.onWithdrawn.
 */
export class Withdrawal {
  constructor(
    private readonly deps: {
      accounts: AccountService;
      passwords: PasswordService;
      tickets: Tickets;
      sessions: IdentitySessions;
      audit: AuditLog;
    },
  ) {}

  async withdraw(userId: string, proof: WithdrawalProof, meta: RequestMeta = {}): Promise<{ revokedSessions: number }> {
    const { accounts, passwords, tickets, sessions, audit } = this.deps;
    const account = await accounts.findById(userId);
    if (!account || account.status === 'withdrawn') throw new VigilError('NOT_FOUND', { what: 'Account' });
    if ('password' in proof) {
      await passwords.assertCurrentPassword(account, proof.password, 'password', meta, 'account.withdrawn');
    } else {
      const claims = await tickets.consume(proof.ticket, 'withdraw');
      const own = claims.channel === 'email' ? account.email : account.phone;
      if (own !== claims.to) {
        throw new VigilError('TICKET_INVALID', {}, { details: [{ field: 'ticket', message: 'was issued for another account' }] });
      }
    }
    await accounts.anonymise(account, meta);
    const revokedSessions = await sessions.revokeAccount(userId, { reason: 'account withdrawn', block: true });
    await audit.record('account.withdrawn', 'success', {
      ...meta,
      userId,
      detail: { proof: 'password' in proof ? 'password' : 'code', revokedSessions, previousStatus: account.status },
    });
    return { revokedSessions };
  }

  static proofFrom(input: { password?: string; ticket?: string }): WithdrawalProof {
    if (input.password !== undefined) return { password: input.password };
    if (input.ticket !== undefined) return { ticket: input.ticket };
    throw fieldError('password', 'give the current password, or a ticket from a code sent with purpose withdraw');
  }
}
