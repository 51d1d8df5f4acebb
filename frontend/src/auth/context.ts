// The session as the pages see it, and what it allows. Kept apart from the
// gate (session.tsx) so that small components can use it without importing pages.
import { createContext, useContext } from 'react';
import type { Scope, Session } from '../api/types';
import { deniedReason } from './scopes';

export const SessionContext = createContext<Session | null>(null);

/** The session inside the gate; null outside it (tests of single pages). */
export function useSession(): Session | null {
  return useContext(SessionContext);
}

/** Whether this session may do what needs `need`, and if not, why (for a tooltip). */
export function useCan(need: Scope): { allowed: boolean; reason: string | null } {
  const session = useSession();
  const reason = deniedReason(session?.scope, need);
  return { allowed: reason === null, reason };
}
