import type { FastifyInstance } from 'fastify';
import { AadError, aad, isGlobalAdministrator, type IdentityServices } from '../identity/index.js';
import { seal, unseal } from '../shared/sealed.js';
import type { DeviceCode } from '../store/index.js';
import { askConsent, consentQuestion, formBody, html, recordConsent, signInFromForm, signInTarget, STATE_TTL_MS } from './flow.js';
import { deviceCodeEntryPage, deviceSignInText, messagePage, signInPage } from './pages.js';

interface DeviceState {
  h: string;
}
interface DeviceConsentState {
  h: string;
  t: string;
  u: string;
}

/** `/devicelogin`: enter the code, sign in, consent, done — the page the device-code message names. */
export function registerDeviceLogin(app: FastifyInstance, services: IdentityServices): void {
  const now = () => services.clock.now();

  const pending = async (hash: string): Promise<DeviceCode | null> => {
    const record = await services.store.getDeviceCode(hash);
    return record && record.status === 'pending' && record.expiresAt > now() ? record : null;
  };

  const clientOf = async (record: DeviceCode, tenantId: string) => services.store.findApplicationByAppId(tenantId, record.clientId);

  const approve = async (record: DeviceCode, tenantId: string, userId: string, appName: string) => {
    const ok = await services.store.transitionDeviceCode(record.deviceCodeHash, 'pending', { status: 'approved', tenantId, userId });
    return ok
      ? messagePage(appName, `You have signed in to the ${appName} application on your device. You may now close this window.`)
      : messagePage('Code expired', 'That code was already used or has expired. Go back to your device and start again.', true);
  };

  app.get('/devicelogin', async (_req, reply) => html(reply, deviceCodeEntryPage()));

  app.post('/devicelogin', async (req, reply) => {
    const form = formBody(req);
    const { count } = await services.store.hitCounter(`usercode:ip:${req.ip}`, services.rateLimits.windowMs, now());
    if (count > services.rateLimits.userCodePerAddress) return html(reply, deviceCodeEntryPage(aad.tooManyRequests().message), 429);
    const code = (form.user_code ?? '').replace(/[\s-]/g, '').toUpperCase();
    const record = /^[A-Z0-9]{6,12}$/.test(code) ? await services.store.findDeviceCodeByUserCode(code, now()) : null;
    if (!record || record.status !== 'pending') return html(reply, deviceCodeEntryPage(aad.userCodeInvalid().message), 400);
    const { client } = await signInTarget(services, record.requestTenant, record.clientId).catch(() => ({ client: null }));
    const state = seal(services.formKey, { h: record.deviceCodeHash }, now() + STATE_TTL_MS);
    const appName = client?.displayName ?? 'your application';
    return html(reply, signInPage({ action: '/devicelogin/signin', state, appName, ...deviceSignInText(appName) }));
  });

  app.post('/devicelogin/signin', async (req, reply) => {
    const form = formBody(req);
    const st = unseal<DeviceState>(services.formKey, form.state, now());
    const record = st ? await pending(st.h) : null;
    if (!st || !record) return html(reply, deviceCodeEntryPage('This sign-in has expired. Enter the code again.'), 400);
    try {
      const { tenant, client: named } = await signInTarget(services, record.requestTenant, record.clientId);
      const appName = named?.displayName ?? 'your application';
      const signedIn = await signInFromForm(services, req, reply, form, tenant, {
        action: '/devicelogin/signin',
        state: form.state!,
        appName,
        clientId: record.clientId,
        ...deviceSignInText(appName),
      });
      if (!signedIn) return reply;
      const client = await clientOf(record, signedIn.tenant.id);
      if (!client) throw aad.appNotFound(record.clientId, signedIn.tenant.defaultDomain);
      const question = await consentQuestion(services, signedIn, client, record.scope);
      if (!question) return html(reply, await approve(record, signedIn.tenant.id, signedIn.user.id, client.displayName));
      const state = seal(services.formKey, { h: record.deviceCodeHash, t: signedIn.tenant.id, u: signedIn.user.id }, now() + STATE_TTL_MS);
      return askConsent(reply, {
        action: '/devicelogin/consent',
        state,
        appName: client.displayName,
        user: signedIn.home.userPrincipalName,
        question,
        canConsentForOrganization: await isGlobalAdministrator(services, signedIn.tenant.id, signedIn.user.id),
      });
    } catch (err) {
      if (err instanceof AadError) return html(reply, messagePage('Sign-in failed', err.message, true), 400);
      throw err;
    }
  });

  app.post('/devicelogin/consent', async (req, reply) => {
    const form = formBody(req);
    const st = unseal<DeviceConsentState>(services.formKey, form.state, now());
    const record = st ? await pending(st.h) : null;
    if (!st || !record) return html(reply, deviceCodeEntryPage('This sign-in has expired. Enter the code again.'), 400);
    const tenant = await services.store.getTenant(st.t);
    const user = tenant ? await services.store.getUser(tenant.id, st.u) : null;
    const client = tenant ? await clientOf(record, tenant.id) : null;
    if (!tenant || !user || !client)
      return html(reply, messagePage('Sign-in failed', 'The account or application no longer exists.', true), 400);
    if (form.decision !== 'accept') {
      await services.store.transitionDeviceCode(record.deviceCodeHash, 'pending', { status: 'declined' });
      return html(
        reply,
        messagePage('Permission declined', `You declined the permissions ${client.displayName} asked for. You may now close this window.`),
      );
    }
    const home =
      user.userType === 'Guest' && user.homeTenantId && user.homeObjectId
        ? await services.store.getUser(user.homeTenantId, user.homeObjectId)
        : user;
    const problem = await recordConsent(
      services,
      { tenant, user, home: home ?? user },
      client,
      record.scope,
      form.for_organization === '1',
    );
    if (problem) return html(reply, messagePage('Need admin approval', problem, true), 403);
    return html(reply, await approve(record, tenant.id, user.id, client.displayName));
  });
}
