import { X509Certificate } from 'node:crypto';
import type { Clock } from '../../shared/clock.js';
import { hashSecret, isGuid, newId, randomToken } from '../../shared/crypto.js';
import type {
  Application,
  FederatedIdentityCredential,
  Group,
  KeyCredential,
  MemberType,
  ServicePrincipal,
  Store,
  Tenant,
  User,
} from '../../store/index.js';
import { StoreError } from '../../store/index.js';
import { FIRST_PARTY_APPS } from './first-party.js';

export class DirectoryError extends Error {
  constructor(
    readonly code: 'not_found' | 'conflict' | 'invalid',
    message: string,
  ) {
    super(message);
    this.name = 'DirectoryError';
  }
}

const YEAR = 365 * 24 * 3600 * 1000;

function mailNicknameOf(value: string): string {
  return value.split('@')[0]!.replace(/[^A-Za-z0-9._-]/g, '') || 'user';
}

function base64url(buf: Buffer): string {
  return buf.toString('base64url');
}

export interface NewApplication {
  id?: string;
  appId?: string;
  displayName: string;
  identifierUris?: string[];
  signInAudience?: string;
  publicClientRedirectUris?: string[];
  webRedirectUris?: string[];
  isFallbackPublicClient?: boolean;
  groupMembershipClaims?: Application['groupMembershipClaims'];
  oauth2PermissionScopes?: Application['oauth2PermissionScopes'];
  appRoles?: Application['appRoles'];
  requiredResourceAccess?: Application['requiredResourceAccess'];
  accessTokenAcceptedVersion?: Application['accessTokenAcceptedVersion'];
  extra?: Record<string, unknown>;
  uniqueName?: string | null;
}

export interface PasswordInput {
  displayName?: string | null;
  endDateTime?: number;
  secretText?: string;
  keyId?: string;
}

export interface AddedPassword {
  keyId: string;
  secretText: string;
  hint: string;
  displayName: string | null;
  startDateTime: number;
  endDateTime: number;
}

/**
 * The tenant directory: the rules Entra keeps (defaults, cycles, first-party apps, hashed
 * credentials) over the store. Graph and the token service both go through it.
 */
export class Directory {
  constructor(
    readonly store: Store,
    readonly clock: Clock,
  ) {}

  private now(): number {
    return this.clock.now();
  }

  // ---- tenants ---------------------------------------------------------------------------

  /** Creates a tenant with Microsoft's first-party applications and their service principals. */
  async createTenant(input: { id?: string; displayName: string; domain: string; domains?: string[] }): Promise<Tenant> {
    const domain = input.domain.toLowerCase();
    if (!/^[a-z0-9-]+(\.[a-z0-9-]+)+$/.test(domain)) throw new DirectoryError('invalid', `'${input.domain}' is not a valid domain name`);
    const tenant: Tenant = {
      id: input.id ?? newId(),
      displayName: input.displayName,
      defaultDomain: domain,
      domains: [...new Set([domain, ...(input.domains ?? []).map((d) => d.toLowerCase())])],
      createdAt: this.now(),
    };
    await this.store.transaction(async (tx) => {
      await tx.createTenant(tenant);
      const dir = new Directory(tx, this.clock);
      for (const fp of FIRST_PARTY_APPS) {
        const { preAuthorizedClients: _ignored, ...app } = fp;
        const created: Application = { ...app, tenantId: tenant.id, id: newId(), createdAt: this.now() };
        await tx.createApplication(created);
        await dir.createServicePrincipal(tenant.id, created.appId);
      }
    });
    return tenant;
  }

  /** Adds first-party applications a tenant lacks (those added to Kentra after the tenant was made). */
  async ensureFirstPartyApps(tenantId: string): Promise<void> {
    await this.store.transaction(async (tx) => {
      const dir = new Directory(tx, this.clock);
      for (const fp of FIRST_PARTY_APPS) {
        if (await tx.findApplicationByAppId(tenantId, fp.appId)) continue;
        const { preAuthorizedClients: _ignored, ...app } = fp;
        await tx.createApplication({ ...app, tenantId, id: newId(), createdAt: this.now() });
        await dir.createServicePrincipal(tenantId, app.appId);
      }
    });
  }

  /** A tenant named by a GUID or one of its domains. */
  async resolveTenant(segment: string): Promise<Tenant | null> {
    return isGuid(segment) ? this.store.getTenant(segment.toLowerCase()) : this.store.findTenantByDomain(segment);
  }

  // ---- users -----------------------------------------------------------------------------

  async createUser(input: {
    tenantId: string;
    userPrincipalName: string;
    displayName: string;
    password: string;
    id?: string;
    accountEnabled?: boolean;
    mailNickname?: string;
    mail?: string | null;
  }): Promise<User> {
    if (!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(input.userPrincipalName)) {
      throw new DirectoryError('invalid', `'${input.userPrincipalName}' is not a valid user principal name`);
    }
    const user: User = {
      tenantId: input.tenantId,
      id: input.id ?? newId(),
      userPrincipalName: input.userPrincipalName,
      displayName: input.displayName,
      mailNickname: input.mailNickname ?? mailNicknameOf(input.userPrincipalName),
      mail: input.mail ?? null,
      passwordHash: await hashSecret(input.password),
      accountEnabled: input.accountEnabled ?? true,
      userType: 'Member',
      homeTenantId: null,
      homeObjectId: null,
      createdAt: this.now(),
    };
    await this.wrap(() => this.store.createUser(user));
    return user;
  }

  /** Invites a user of another tenant: a guest account whose credentials stay at home. */
  async createGuest(input: { tenantId: string; home: User; id?: string }): Promise<User> {
    const { home } = input;
    if (home.tenantId === input.tenantId) throw new DirectoryError('invalid', 'a user cannot be a guest in its own tenant');
    const tenant = await this.store.getTenant(input.tenantId);
    if (!tenant) throw new DirectoryError('not_found', `tenant ${input.tenantId} not found`);
    const guest: User = {
      tenantId: input.tenantId,
      id: input.id ?? newId(),
      userPrincipalName: `${home.userPrincipalName.replace('@', '_')}#EXT#@${tenant.defaultDomain}`,
      displayName: home.displayName,
      mailNickname: mailNicknameOf(home.userPrincipalName),
      mail: home.userPrincipalName,
      passwordHash: null,
      accountEnabled: true,
      userType: 'Guest',
      homeTenantId: home.tenantId,
      homeObjectId: home.id,
      createdAt: this.now(),
    };
    await this.wrap(() => this.store.createUser(guest));
    return guest;
  }

  // ---- groups ----------------------------------------------------------------------------

  async createGroup(input: {
    tenantId: string;
    displayName: string;
    mailNickname?: string;
    id?: string;
    description?: string | null;
    securityEnabled?: boolean;
    mailEnabled?: boolean;
  }): Promise<Group> {
    const group: Group = {
      tenantId: input.tenantId,
      id: input.id ?? newId(),
      displayName: input.displayName,
      mailNickname: input.mailNickname ?? mailNicknameOf(input.displayName),
      description: input.description ?? null,
      securityEnabled: input.securityEnabled ?? true,
      mailEnabled: input.mailEnabled ?? false,
      createdAt: this.now(),
    };
    await this.wrap(() => this.store.createGroup(group));
    return group;
  }

  /** Adds a member, refusing a membership that would make a group (transitively) contain itself. */
  async addGroupMember(tenantId: string, groupId: string, memberId: string): Promise<MemberType> {
    return this.store.transaction(async (tx) => {
      if (!(await tx.getGroup(tenantId, groupId))) throw new DirectoryError('not_found', `group ${groupId} not found`);
      const memberType = await new Directory(tx, this.clock).objectType(tenantId, memberId);
      if (!memberType) throw new DirectoryError('not_found', `directory object ${memberId} not found`);
      if (memberType === 'group') {
        if (memberId === groupId || (await tx.listTransitiveGroupIds(tenantId, groupId)).includes(memberId)) {
          throw new DirectoryError('invalid', `adding group ${memberId} to group ${groupId} would create a membership cycle`);
        }
      }
      await this.wrap(
        () => tx.addGroupMember({ tenantId, groupId, memberId, memberType }),
        "One or more added object references already exist for the following modified properties: 'members'.",
      );
      return memberType;
    });
  }

  /** What kind of directory object an id names in this tenant, or null. */
  async objectType(tenantId: string, id: string): Promise<MemberType | null> {
    if (await this.store.getUser(tenantId, id)) return 'user';
    if (await this.store.getGroup(tenantId, id)) return 'group';
    if (await this.store.getServicePrincipal(tenantId, id)) return 'servicePrincipal';
    return null;
  }

  // ---- applications ----------------------------------------------------------------------

  async createApplication(tenantId: string, input: NewApplication): Promise<Application> {
    const app: Application = {
      tenantId,
      id: input.id ?? newId(),
      appId: input.appId ?? newId(),
      displayName: input.displayName,
      identifierUris: input.identifierUris ?? [],
      signInAudience: input.signInAudience ?? 'AzureADMyOrg',
      publicClientRedirectUris: input.publicClientRedirectUris ?? [],
      webRedirectUris: input.webRedirectUris ?? [],
      isFallbackPublicClient: input.isFallbackPublicClient ?? false,
      groupMembershipClaims: input.groupMembershipClaims ?? null,
      oauth2PermissionScopes: input.oauth2PermissionScopes ?? [],
      appRoles: input.appRoles ?? [],
      requiredResourceAccess: input.requiredResourceAccess ?? [],
      accessTokenAcceptedVersion: input.accessTokenAcceptedVersion ?? null,
      firstParty: false,
      extra: input.extra ?? {},
      uniqueName: input.uniqueName ?? null,
      createdAt: this.now(),
    };
    await this.wrap(() => this.store.createApplication(app));
    return app;
  }

  async createServicePrincipal(tenantId: string, appId: string, id?: string): Promise<ServicePrincipal> {
    const app = await this.store.findApplicationByAppId(tenantId, appId);
    if (!app) throw new DirectoryError('not_found', `application ${appId} not found in tenant ${tenantId}`);
    const sp: ServicePrincipal = {
      tenantId,
      id: id ?? newId(),
      appId,
      displayName: app.displayName,
      accountEnabled: true,
      servicePrincipalNames: [appId, ...app.identifierUris],
      appRoleAssignmentRequired: false,
      createdAt: this.now(),
    };
    await this.wrap(() => this.store.createServicePrincipal(sp));
    return sp;
  }

  /** Adds a client secret to an application; the text is returned here once and only its hash is kept. */
  async addPassword(tenantId: string, appObjectId: string, input: PasswordInput = {}): Promise<AddedPassword> {
    if (!(await this.store.getApplication(tenantId, appObjectId)))
      throw new DirectoryError('not_found', `application ${appObjectId} not found`);
    return this.addPasswordTo(tenantId, appObjectId, 'application', input);
  }

  /** Adds a secret that belongs to a service principal itself (`az ad sp credential reset`). */
  async addServicePrincipalPassword(tenantId: string, spObjectId: string, input: PasswordInput = {}): Promise<AddedPassword> {
    if (!(await this.store.getServicePrincipal(tenantId, spObjectId)))
      throw new DirectoryError('not_found', `service principal ${spObjectId} not found`);
    return this.addPasswordTo(tenantId, spObjectId, 'servicePrincipal', input);
  }

  /**
   * Writes a credential of an application (or a service principal), then reads its owner in the same
   * transaction and undoes the write if the owner is gone, so that a delete of the owner at the same time
   * cannot leave the credential behind. Directory writes are serialized: SQLite has one writer, and on
   * PostgreSQL each write first locks the directory revision's row (migrations.ts, DIRECTORY_TABLES), so a
   * delete either committed before the credential's write (the read finds no owner) or waits for its commit
   * (and then deletes the credential with the owner).
   */
  private async addCredentialOf(
    tenantId: string,
    ownerId: string,
    kind: 'application' | 'servicePrincipal',
    write: (store: Store) => Promise<unknown>,
  ): Promise<void> {
    await this.wrap(() =>
      this.store.transaction(async (tx) => {
        await write(tx);
        const owner = kind === 'application' ? await tx.getApplication(tenantId, ownerId) : await tx.getServicePrincipal(tenantId, ownerId);
        if (!owner)
          throw new StoreError('not_found', `${kind === 'application' ? 'application' : 'service principal'} ${ownerId} not found`);
      }),
    );
  }

  private async addPasswordTo(
    tenantId: string,
    appObjectId: string,
    kind: 'application' | 'servicePrincipal',
    input: PasswordInput,
  ): Promise<AddedPassword> {
    // Entra's secrets are 40 characters with a recognisable 3-character hint.
    const secretText = input.secretText ?? `${randomToken(3).slice(0, 3)}8Q~${randomToken(27).slice(0, 34)}`;
    if (secretText.length < 16) throw new DirectoryError('invalid', 'a client secret must have at least 16 characters');
    const start = this.now();
    const end = input.endDateTime ?? start + 2 * YEAR;
    if (end <= start) throw new DirectoryError('invalid', 'the end date of a credential must be in the future');
    const cred = {
      tenantId,
      appObjectId,
      keyId: input.keyId ?? newId(),
      displayName: input.displayName ?? null,
      hint: secretText.slice(0, 3),
      secretHash: await hashSecret(secretText),
      startDateTime: start,
      endDateTime: end,
    };
    await this.addCredentialOf(tenantId, appObjectId, kind, (store) => store.addPasswordCredential(cred));
    return { keyId: cred.keyId, secretText, hint: cred.hint, displayName: cred.displayName, startDateTime: start, endDateTime: end };
  }

  /** Adds a certificate credential (PEM or base64 DER). */
  async addCertificate(tenantId: string, appObjectId: string, certificate: string, displayName?: string | null): Promise<KeyCredential> {
    if (!(await this.store.getApplication(tenantId, appObjectId)))
      throw new DirectoryError('not_found', `application ${appObjectId} not found`);
    let x509: X509Certificate;
    try {
      x509 = new X509Certificate(certificate.includes('-----BEGIN') ? certificate : Buffer.from(certificate, 'base64'));
    } catch {
      throw new DirectoryError('invalid', 'the certificate could not be read: give a PEM or base64 DER X.509 certificate');
    }
    if (x509.publicKey.asymmetricKeyType !== 'rsa') throw new DirectoryError('invalid', 'the certificate must have an RSA key');
    const { createHash } = await import('node:crypto');
    const der = x509.raw;
    const cred: KeyCredential = {
      tenantId,
      appObjectId,
      keyId: newId(),
      displayName: displayName ?? x509.subject.replace(/\n/g, ', '),
      certificateDer: der.toString('base64'),
      thumbprintSha1: base64url(createHash('sha1').update(der).digest()),
      thumbprintSha256: base64url(createHash('sha256').update(der).digest()),
      startDateTime: Date.parse(x509.validFrom),
      endDateTime: Date.parse(x509.validTo),
    };
    await this.addCredentialOf(tenantId, appObjectId, 'application', (store) => store.addKeyCredential(cred));
    return cred;
  }

  async addFederatedCredential(
    tenantId: string,
    appObjectId: string,
    input: { name: string; issuer: string; subject: string; audiences?: string[]; description?: string | null; id?: string },
  ): Promise<FederatedIdentityCredential> {
    if (!(await this.store.getApplication(tenantId, appObjectId)))
      throw new DirectoryError('not_found', `application ${appObjectId} not found`);
    if (!/^[A-Za-z0-9][A-Za-z0-9_-]{0,119}$/.test(input.name))
      throw new DirectoryError('invalid', `'${input.name}' is not a valid federated credential name`);
    try {
      new URL(input.issuer);
    } catch {
      throw new DirectoryError('invalid', `the issuer '${input.issuer}' must be a URL`);
    }
    if (!input.subject) throw new DirectoryError('invalid', 'a federated credential needs a subject');
    const cred: FederatedIdentityCredential = {
      tenantId,
      appObjectId,
      id: input.id ?? newId(),
      name: input.name,
      issuer: input.issuer,
      subject: input.subject,
      audiences: input.audiences?.length ? input.audiences : ['api://AzureADTokenExchange'],
      description: input.description ?? null,
    };
    await this.addCredentialOf(tenantId, appObjectId, 'application', (store) => store.addFederatedCredential(cred));
    return cred;
  }

  private async wrap<T>(fn: () => Promise<T>, conflictMessage?: string): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof StoreError)
        throw new DirectoryError(
          err.code === 'conflict' ? 'conflict' : err.code === 'not_found' ? 'not_found' : 'invalid',
          (err.code === 'conflict' && conflictMessage) || err.message,
        );
      throw err;
    }
  }
}
