import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import type { SessionState } from './api';

export interface SessionContextValue {
  state: SessionState | undefined;
  /** Fetches the session again (after login, logout, two-factor changes). */
  refresh(): Promise<SessionState>;
  set(state: SessionState): void;
}

export const SessionContext = createContext<SessionContextValue>({
  state: undefined,
  refresh: () => Promise.reject(new Error('no session provider')),
  set: () => {},
});

export const useSession = () => useContext(SessionContext);
