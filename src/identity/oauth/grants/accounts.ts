import type { User } from '../../../store/index.js';
import { aad } from '../../errors.js';
import type { IdentityServices } from '../context.js';

/** The account that signs in for `user`: itself for members, the home account for guests. */
export async function homeAccountOf(services: IdentityServices, user: User): Promise<User> {
  if (user.userType !== 'Guest' || !user.homeTenantId || !user.homeObjectId) return user;
  const home = await services.store.getUser(user.homeTenantId, user.homeObjectId);
  if (!home) throw aad.refreshRevoked();
  return home;
}
