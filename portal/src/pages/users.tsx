import { useState } from 'preact/hooks';
import { graph, graphAll } from '../api';
import { useSession } from '../session';
import { Button, Checkbox, Dialog, ErrorBanner, Field, Loading, Notice, PageHeader, Select, Table, useAsync } from '../ui/index';
import { generatePassword } from './password';

interface User {
  id: string;
  displayName: string;
  userPrincipalName: string;
  accountEnabled?: boolean;
  userType?: string;
}

function CreateUser({ onDone }: { onDone: (u: User, password: string) => void }) {
  const session = useSession();
  const domains = session.tenant?.domains.map((d) => d.name) ?? [];
  const [displayName, setDisplayName] = useState('');
  const [alias, setAlias] = useState('');
  const [domain, setDomain] = useState(session.tenant?.domains.find((d) => d.isDefault)?.name ?? domains[0] ?? '');
  const [password, setPassword] = useState(generatePassword());
  const [enabled, setEnabled] = useState(true);
  const [error, setError] = useState<unknown>(undefined);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const u = await graph<User>('/users', {
        method: 'POST',
        body: JSON.stringify({
          accountEnabled: enabled,
          displayName,
          mailNickname: alias,
          userPrincipalName: `${alias}@${domain}`,
          passwordProfile: { forceChangePasswordNextSignIn: false, password },
        }),
      });
      onDone(u, password);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form onSubmit={submit}>
      <ErrorBanner error={error} />
      <Field label="Display name" value={displayName} onValue={setDisplayName} required autoComplete="off" />
      <Field
        label="User name"
        value={alias}
        onValue={setAlias}
        required
        pattern="[A-Za-z0-9._\-]+"
        autoComplete="off"
        hint="The part before the @ of the user principal name."
      />
      <Select label="Domain" value={domain} onValue={setDomain} options={domains.map((d) => ({ value: d, label: d }))} required />
      <Field label="Password" value={password} onValue={setPassword} required autoComplete="new-password" hint="Shown once: copy it now." />
      <Checkbox label="Account enabled" checked={enabled} onChecked={setEnabled} />
      <div class="form-actions">
        <Button type="submit" variant="primary" disabled={busy}>
          Create
        </Button>
      </div>
    </form>
  );
}

function ResetPassword({ user, onDone }: { user: User; onDone: (password: string) => void }) {
  const [password, setPassword] = useState(generatePassword());
  const [error, setError] = useState<unknown>(undefined);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      await graph(`/users/${user.id}`, {
        method: 'PATCH',
        body: JSON.stringify({ passwordProfile: { forceChangePasswordNextSignIn: false, password } }),
      });
      onDone(password);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form onSubmit={submit}>
      <p>
        A new password for <strong>{user.userPrincipalName}</strong>. Their sessions and refresh tokens end.
      </p>
      <ErrorBanner error={error} />
      <Field label="New password" value={password} onValue={setPassword} required autoComplete="new-password" />
      <div class="form-actions">
        <Button type="submit" variant="primary" disabled={busy}>
          Reset password
        </Button>
      </div>
    </form>
  );
}

export function Users() {
  const list = useAsync(() => graphAll<User>('/users?$select=id,displayName,userPrincipalName,accountEnabled,userType&$top=999'));
  const [creating, setCreating] = useState(false);
  const [resetting, setResetting] = useState<User | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [actionError, setActionError] = useState<unknown>(undefined);
  const setEnabled = async (u: User, enabled: boolean) => {
    setActionError(undefined);
    setNotice(null);
    try {
      await graph(`/users/${u.id}`, { method: 'PATCH', body: JSON.stringify({ accountEnabled: enabled }) });
      setNotice(`${u.userPrincipalName} is ${enabled ? 'enabled' : 'disabled'}.`);
      list.reload();
    } catch (err) {
      setActionError(err);
    }
  };
  return (
    <div>
      <PageHeader title="Users">
        <Button variant="primary" onClick={() => setCreating(true)}>
          New user
        </Button>
      </PageHeader>
      {notice && <Notice>{notice}</Notice>}
      <ErrorBanner error={actionError} />
      <ErrorBanner error={list.error} />
      {list.loading && !list.data && <Loading label="Loading users…" />}
      {list.data && (
        <Table
          caption="Users"
          rows={list.data}
          rowKey={(u) => u.id}
          columns={[
            { title: 'Display name', cell: (u) => u.displayName },
            { title: 'User principal name', cell: (u) => u.userPrincipalName },
            { title: 'Type', cell: (u) => u.userType ?? 'Member' },
            { title: 'Sign-in', cell: (u) => (u.accountEnabled === false ? 'Disabled' : 'Enabled') },
            {
              title: 'Actions',
              cell: (u) => (
                <div class="row-actions">
                  <Button onClick={() => setResetting(u)} aria-label={`Reset password of ${u.userPrincipalName}`}>
                    Reset password
                  </Button>
                  {u.accountEnabled === false ? (
                    <Button onClick={() => void setEnabled(u, true)} aria-label={`Enable ${u.userPrincipalName}`}>
                      Enable
                    </Button>
                  ) : (
                    <Button variant="danger" onClick={() => void setEnabled(u, false)} aria-label={`Disable ${u.userPrincipalName}`}>
                      Disable
                    </Button>
                  )}
                </div>
              ),
            },
          ]}
        />
      )}
      <Dialog title="New user" open={creating} onClose={() => setCreating(false)}>
        <CreateUser
          onDone={(u, password) => {
            setCreating(false);
            setNotice(`Created ${u.userPrincipalName}. Its password (shown once): ${password}`);
            list.reload();
          }}
        />
      </Dialog>
      <Dialog title="Reset password" open={resetting !== null} onClose={() => setResetting(null)}>
        {resetting && (
          <ResetPassword
            user={resetting}
            onDone={(password) => {
              const u = resetting;
              setResetting(null);
              setNotice(`The password of ${u.userPrincipalName} is reset. The new password (shown once): ${password}`);
            }}
          />
        )}
      </Dialog>
    </div>
  );
}
