import { verifySecret } from '../../shared/crypto.js';
import type { Tenant, User } from '../../store/index.js';
import { aad } from '../errors.js';
import type { IdentityServices } from './context.js';

export interface SignedInUser {
  /** The tenant the token is for. */
  tenant: Tenant;
  /** The account in that tenant: the user itself, or its guest account there. */
  user: User;
  /** The account whose password was checked. */
  home: User;
}

// A fixed hash to verify against when the account does not exist, so that a missing account and a
// wrong password take the same time.
let decoyHash: Promise<string> | undefined;

async function countAttempt(services: IdentityServices, key: string, limit: number): Promise<void> {
  const { count } = await services.store.hitCounter(key, services.rateLimits.windowMs, services.clock.now());
  if (count > limit) throw key.startsWith('signin:acct:') ? aad.accountLocked() : aad.tooManyRequests();
}

/** The home account of a user name: its domain's tenant, else the tenant the request names. */
async function findHomeAccount(services: IdentityServices, username: string, target: Tenant | null): Promise<User | null> {
  const domain = username.split('@')[1];
  const byDomain = domain ? await services.store.findTenantByDomain(domain) : null;
  if (byDomain) {
    const user = await services.store.findUserByUpn(byDomain.id, username);
    if (user) return user;
  }
  return target ? services.store.findUserByUpn(target.id, username) : null;
}

/** The account standing for `home` in `tenant`: itself, or its guest account there. */
export async function accountInTenant(services: IdentityServices, home: User, tenant: Tenant): Promise<User> {
  if (home.tenantId === tenant.id) return home;
  const guest = (await services.store.listGuestAccounts(home.tenantId, home.id)).find((g) => g.tenantId === tenant.id);
  if (!guest) throw aad.userNotInTenant(home.userPrincipalName, tenant.defaultDomain);
  if (!guest.accountEnabled) throw aad.accountDisabled();
  return guest;
}

/**
 * Checks a user name and password. `target` is the tenant the request names (null for `common`,
 * `organizations` and `adfs`: the user's home tenant is used).
 */
export async function signInWithPassword(
  services: IdentityServices,
  input: { username: string; password: string; target: Tenant | null; ip: string },
): Promise<SignedInUser> {
  const { rateLimits } = services;
  const username = input.username.trim();
  await countAttempt(services, `signin:ip:${input.ip}`, rateLimits.passwordPerAddress);
  const accountKey = `signin:acct:${username.toLowerCase()}`;
  await countAttempt(services, accountKey, rateLimits.passwordPerAccount);
  const home = await findHomeAccount(services, username, input.target);
  if (!home || !home.passwordHash) {
    decoyHash ??= import('../../shared/crypto.js').then((m) => m.hashSecret('decoy-password-for-timing'));
    await verifySecret(input.password, await decoyHash);
    const tenantName = input.target?.defaultDomain ?? username.split('@')[1] ?? 'organizations';
    throw aad.userNotFound(tenantName);
  }
  if (!(await verifySecret(input.password, home.passwordHash))) throw aad.badPassword();
  if (!home.accountEnabled) throw aad.accountDisabled();
  await services.store.resetCounter(accountKey);
  const homeTenant = await services.store.getTenant(home.tenantId);
  const tenant = input.target ?? homeTenant!;
  return { tenant, user: await accountInTenant(services, home, tenant), home };
}
