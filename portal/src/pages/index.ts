import type { ComponentType } from 'preact';
import { Overview } from './overview';
import { Users } from './users';
import { Groups } from './groups';
import { AppRegistrations } from './app-registrations';
import { EnterpriseApps } from './enterprise-apps';
import { SignInLog } from './sign-in-log';
import { SigningKeys } from './signing-keys';
import { Clusters } from './clusters';
import { RoleAssignments } from './role-assignments';
import { CheckAccess } from './check-access';
import { AccessLog } from './access-log';

// The page registry: the navigation lists these, in this order, under their group; the router shows the
// page whose path matches (hash routing, see router.ts). A page is a component with no props that does
// its work through api.ts (Graph and ARM with the signed-in user's tokens) and the UI kit in ../ui.
// To add a page: import it and add an entry; it appears in the navigation, the tests' page list and the
// screenshots (scripts/portal-screenshots.mjs).

export interface PortalPage {
  /** The route, starting with `/` (`/` is the overview). */
  path: string;
  /** The navigation label and the page's <h1>. */
  title: string;
  group: 'Entra' | 'Azure';
  component: ComponentType;
}

export const pages: PortalPage[] = [
  { path: '/', title: 'Overview', group: 'Entra', component: Overview },
  { path: '/users', title: 'Users', group: 'Entra', component: Users },
  { path: '/groups', title: 'Groups', group: 'Entra', component: Groups },
  { path: '/app-registrations', title: 'App registrations', group: 'Entra', component: AppRegistrations },
  { path: '/enterprise-apps', title: 'Enterprise applications', group: 'Entra', component: EnterpriseApps },
  { path: '/sign-in-logs', title: 'Sign-in logs', group: 'Entra', component: SignInLog },
  { path: '/signing-keys', title: 'Signing keys', group: 'Entra', component: SigningKeys },
  { path: '/clusters', title: 'Kubernetes services', group: 'Azure', component: Clusters },
  { path: '/access-control', title: 'Access control (IAM)', group: 'Azure', component: RoleAssignments },
  { path: '/check-access', title: 'Why was I refused?', group: 'Azure', component: CheckAccess },
  { path: '/access-log', title: 'Cluster access log', group: 'Azure', component: AccessLog },
];
