import type { AccountInfo } from '@azure/msal-browser';
import { createContext } from 'preact';
import { useContext } from 'preact/hooks';

/** The signed-in user and their tenant, for every page. */
export interface PortalSession {
  account: AccountInfo;
  tenant: { id: string; displayName: string; domains: { name: string; isDefault: boolean }[] } | null;
}

export const SessionContext = createContext<PortalSession | null>(null);

export function useSession(): PortalSession {
  const s = useContext(SessionContext);
  if (!s) throw new Error('useSession outside the signed-in portal');
  return s;
}
