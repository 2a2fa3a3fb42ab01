import { useState } from 'preact/hooks';
import { graph, graphAll } from '../api';
import { Button, Checkbox, Dialog, ErrorBanner, Field, Loading, Notice, PageHeader, Select, Table, useAsync } from '../ui/index';

interface Group {
  id: string;
  displayName: string;
  description?: string | null;
  securityEnabled?: boolean;
}
interface DirectoryObject {
  '@odata.type'?: string;
  id: string;
  displayName?: string;
  userPrincipalName?: string;
}

const isGroup = (o: DirectoryObject) => o['@odata.type'] === '#microsoft.graph.group';
const nameOf = (o: DirectoryObject) => o.displayName ?? o.userPrincipalName ?? o.id;

/** A group and the groups nested in it, as far as the user may read (cycles cut, depth bounded). */
export interface TreeNode {
  id: string;
  name: string;
  children: TreeNode[];
  /** This group appears higher up the same branch: membership loops back. */
  cycle?: boolean;
}

const MAX_DEPTH = 6;

async function nestedTree(group: { id: string; displayName: string }, seen: string[] = []): Promise<TreeNode> {
  if (seen.includes(group.id)) return { id: group.id, name: group.displayName, children: [], cycle: true };
  if (seen.length >= MAX_DEPTH) return { id: group.id, name: group.displayName, children: [] };
  const members = await graphAll<DirectoryObject>(`/groups/${group.id}/members?$top=999`);
  const children = await Promise.all(
    members.filter(isGroup).map((m) => nestedTree({ id: m.id, displayName: nameOf(m) }, [...seen, group.id])),
  );
  return { id: group.id, name: group.displayName, children };
}

/** Rows of the tree in drawing order: each node with its depth and its parent's row. */
function layout(root: TreeNode): { node: TreeNode; depth: number; parent: number }[] {
  const rows: { node: TreeNode; depth: number; parent: number }[] = [];
  const walk = (n: TreeNode, depth: number, parent: number) => {
    const me = rows.length;
    rows.push({ node: n, depth, parent });
    for (const c of n.children) walk(c, depth + 1, me);
  };
  walk(root, 0, -1);
  return rows;
}

function describe(n: TreeNode): string {
  if (n.children.length === 0) return '';
  const own = `${n.name} contains ${n.children.map((c) => c.name + (c.cycle ? ' (loops back)' : '')).join(', ')}.`;
  return [own, ...n.children.map(describe).filter(Boolean)].join(' ');
}

/** Nested membership drawn as a picture: the group at the left, its member groups branching to the right. */
export function NestingPicture({ tree }: { tree: TreeNode }) {
  const rows = layout(tree);
  const DX = 28;
  const DY = 34;
  const W = 230;
  const width = Math.max(...rows.map((r) => r.depth)) * DX + W + 10;
  const height = rows.length * DY + 6;
  const text = describe(tree) || `${tree.name} has no member groups.`;
  return (
    <figure class="nesting">
      <svg
        role="img"
        aria-labelledby="nesting-title nesting-desc"
        viewBox={`0 0 ${width} ${height}`}
        width={width}
        height={height}
        data-testid="nesting-svg"
      >
        <title id="nesting-title">Groups nested in {tree.name}</title>
        <desc id="nesting-desc">{text}</desc>
        {rows.map((r, i) =>
          r.parent < 0 ? null : (
            <path
              key={`l${i}`}
              class="tree-line"
              d={`M ${rows[r.parent]!.depth * DX + 10} ${r.parent * DY + 30} V ${i * DY + 18} H ${r.depth * DX + 4}`}
              fill="none"
            />
          ),
        )}
        {rows.map((r, i) => (
          <g
            key={`n${i}`}
            transform={`translate(${r.depth * DX + 4} ${i * DY + 6})`}
            class={r.node.cycle ? 'tree-node tree-cycle' : 'tree-node'}
          >
            <rect width={W - 20} height="24" rx="4" />
            <text x="8" y="16">
              {(r.node.name.length > 26 ? `${r.node.name.slice(0, 25)}…` : r.node.name) + (r.node.cycle ? ' ↻' : '')}
            </text>
          </g>
        ))}
      </svg>
      <figcaption>{text}</figcaption>
    </figure>
  );
}

function CreateGroup({ onDone }: { onDone: (g: Group) => void }) {
  const [displayName, setDisplayName] = useState('');
  const [alias, setAlias] = useState('');
  const [description, setDescription] = useState('');
  const [error, setError] = useState<unknown>(undefined);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const g = await graph<Group>('/groups', {
        method: 'POST',
        body: JSON.stringify({
          displayName,
          mailNickname: alias || displayName.replace(/[^A-Za-z0-9]/g, '').slice(0, 60) || 'group',
          description: description || null,
          securityEnabled: true,
          mailEnabled: false,
        }),
      });
      onDone(g);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form onSubmit={submit}>
      <p>A security group (Kentra's directory has no Microsoft 365 groups).</p>
      <ErrorBanner error={error} />
      <Field label="Group name" value={displayName} onValue={setDisplayName} required autoComplete="off" />
      <Field label="Mail nickname" value={alias} onValue={setAlias} autoComplete="off" hint="Optional: made from the name when empty." />
      <Field label="Description" value={description} onValue={setDescription} autoComplete="off" />
      <div class="form-actions">
        <Button type="submit" variant="primary" disabled={busy}>
          Create
        </Button>
      </div>
    </form>
  );
}

function Members({ group, candidates }: { group: Group; candidates: DirectoryObject[] }) {
  const members = useAsync(() => graphAll<DirectoryObject>(`/groups/${group.id}/members?$top=999`), [group.id]);
  const tree = useAsync(() => nestedTree(group), [group.id]);
  const [adding, setAdding] = useState('');
  const [error, setError] = useState<unknown>(undefined);
  const [notice, setNotice] = useState<string | null>(null);
  const inGroup = new Set((members.data ?? []).map((m) => m.id));
  const options = candidates.filter((c) => c.id !== group.id && !inGroup.has(c.id));
  const change = async (what: () => Promise<unknown>, done: string) => {
    setError(undefined);
    setNotice(null);
    try {
      await what();
      setNotice(done);
      members.reload();
      tree.reload();
    } catch (err) {
      setError(err);
    }
  };
  const add = (e: Event) => {
    e.preventDefault();
    const target = candidates.find((c) => c.id === adding);
    if (!target) return;
    void change(
      () =>
        graph(`/groups/${group.id}/members/$ref`, {
          method: 'POST',
          body: JSON.stringify({ '@odata.id': `https://graph.microsoft.com/v1.0/directoryObjects/${target.id}` }),
        }),
      `Added ${nameOf(target)} to ${group.displayName}.`,
    ).then(() => setAdding(''));
  };
  return (
    <div>
      {notice && <Notice>{notice}</Notice>}
      <ErrorBanner error={error} />
      <ErrorBanner error={members.error} />
      {members.loading && !members.data && <Loading label="Loading members…" />}
      {members.data && (
        <Table
          caption={`Members of ${group.displayName}`}
          showCaption
          rows={members.data}
          rowKey={(m) => m.id}
          empty="No members."
          columns={[
            { title: 'Name', cell: (m) => nameOf(m) },
            { title: 'Type', cell: (m) => (isGroup(m) ? 'Group' : (m['@odata.type']?.replace('#microsoft.graph.', '') ?? 'Object')) },
            {
              title: 'Actions',
              cell: (m) => (
                <Button
                  variant="danger"
                  aria-label={`Remove ${nameOf(m)} from ${group.displayName}`}
                  onClick={() =>
                    void change(
                      () => graph(`/groups/${group.id}/members/${m.id}/$ref`, { method: 'DELETE' }),
                      `Removed ${nameOf(m)} from ${group.displayName}.`,
                    )
                  }
                >
                  Remove
                </Button>
              ),
            },
          ]}
        />
      )}
      <form class="inline-form" onSubmit={add}>
        <Select
          label="Add a member"
          value={adding}
          onValue={setAdding}
          options={[
            { value: '', label: 'Choose a user or group…' },
            ...options.map((o) => ({ value: o.id, label: `${nameOf(o)} (${isGroup(o) ? 'group' : 'user'})` })),
          ]}
        />
        <Button type="submit" variant="primary" disabled={!adding}>
          Add
        </Button>
      </form>
      <h3>Nested membership</h3>
      <ErrorBanner error={tree.error} />
      {tree.loading && !tree.data && <Loading label="Drawing nested groups…" />}
      {tree.data && <NestingPicture tree={tree.data} />}
    </div>
  );
}

export function Groups() {
  const list = useAsync(() => graphAll<Group>('/groups?$top=999'));
  const users = useAsync(() =>
    graphAll<DirectoryObject>('/users?$select=id,displayName,userPrincipalName&$top=999').then((u) =>
      u.map((x) => ({ ...x, '@odata.type': '#microsoft.graph.user' })),
    ),
  );
  const [creating, setCreating] = useState(false);
  const [open, setOpen] = useState<Group | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [securityOnly, setSecurityOnly] = useState(false);
  const candidates: DirectoryObject[] = [
    ...(users.data ?? []),
    ...(list.data ?? []).map((g) => ({ '@odata.type': '#microsoft.graph.group', id: g.id, displayName: g.displayName })),
  ];
  const rows = (list.data ?? []).filter((g) => !securityOnly || g.securityEnabled);
  return (
    <div>
      <PageHeader title="Groups">
        <Button variant="primary" onClick={() => setCreating(true)}>
          New group
        </Button>
      </PageHeader>
      {notice && <Notice>{notice}</Notice>}
      <ErrorBanner error={list.error} />
      {list.loading && !list.data && <Loading label="Loading groups…" />}
      {list.data && (
        <>
          <Checkbox label="Security groups only" checked={securityOnly} onChecked={setSecurityOnly} />
          <Table
            caption="Groups"
            rows={rows}
            rowKey={(g) => g.id}
            columns={[
              { title: 'Name', cell: (g) => g.displayName },
              { title: 'Description', cell: (g) => g.description ?? '' },
              { title: 'Kind', cell: (g) => (g.securityEnabled ? 'Security' : 'Other') },
              {
                title: 'Actions',
                cell: (g) => (
                  <Button onClick={() => setOpen(g)} aria-label={`Members of ${g.displayName}`}>
                    Members
                  </Button>
                ),
              },
            ]}
          />
        </>
      )}
      <Dialog title="New group" open={creating} onClose={() => setCreating(false)}>
        <CreateGroup
          onDone={(g) => {
            setCreating(false);
            setNotice(`Created the group ${g.displayName}.`);
            list.reload();
          }}
        />
      </Dialog>
      <Dialog title={open ? `Members of ${open.displayName}` : 'Members'} open={open !== null} onClose={() => setOpen(null)}>
        {open && <Members group={open} candidates={candidates} />}
      </Dialog>
    </div>
  );
}
