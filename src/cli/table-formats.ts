import type { JsonObject } from '../shared/json.js';

// az's table transformers (`-o table` without --query), one per command that has one in az; the
// others print az's automatic table (output.ts). Each names the az function it follows.

const asList = (result: unknown): JsonObject[] => (Array.isArray(result) ? result : [result]) as JsonObject[];
const asObject = (value: unknown): JsonObject => (value && typeof value === 'object' ? (value as JsonObject) : {});

/** acs/_format.py `version_to_tuple`: `1.32.7` → [1, 32, 7], a `(preview)` suffix dropped; undefined if not a version. */
function versionParts(version: unknown): number[] | undefined {
  const parts = String(version)
    .replace(/\(preview\)$/, '')
    .split('.')
    .map(Number);
  return parts.every(Number.isInteger) ? parts : undefined;
}

function compareVersions(a: number[], b: number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? -1) - (b[i] ?? -1);
    if (d) return d;
  }
  return 0;
}

/** acs/_format.py `sort_versions`: ascending as versions; left as given when one is not a version. */
function sortVersions(versions: unknown[]): unknown[] {
  const parsed = versions.map(versionParts);
  if (parsed.some((p) => !p)) return versions;
  return versions
    .map((v, i) => ({ v, p: parsed[i]! }))
    .sort((x, y) => compareVersions(x.p, y.p))
    .map((x) => x.v);
}

/** az's `aks_show_table_format` / `aks_list_table_format` (acs/_format.py): seven columns. */
export function aksTable(result: unknown): unknown {
  const row = (c: JsonObject) => ({
    name: c.name,
    location: c.location,
    resourceGroup: c.resourceGroup,
    kubernetesVersion: c.kubernetesVersion,
    currentKubernetesVersion: c.currentKubernetesVersion,
    provisioningState: c.provisioningState,
    fqdn: c.fqdn || c.privateFqdn,
  });
  return Array.isArray(result) ? result.map(row) : row(result as JsonObject);
}

/**
 * az's `aks_versions_table_format` (acs/_format.py): one row per patch version, newest first, with its
 * upgrades (sorted, or `None available`) and support plans; an IsPreview column only where ARM says.
 */
export function aksVersionsTable(result: unknown): unknown {
  const values = asObject(result).values;
  const rows = (Array.isArray(values) ? (values as JsonObject[]) : []).flatMap((release) => {
    const supportPlan = asObject(release.capabilities).supportPlan;
    return Object.entries(asObject(release.patchVersions)).map(([version, patch]) => {
      const upgrades = asObject(patch).upgrades;
      return {
        kubernetesVersion: version,
        // The SDK's model has the key whether or not ARM sent it: absent reads as null, and null columns are left out.
        isPreview: release.isPreview ?? null,
        upgrades: (Array.isArray(upgrades) && upgrades.length ? sortVersions(upgrades) : ['None available']).join(', '),
        supportPlan: Array.isArray(supportPlan) ? supportPlan.join(', ') : null,
      };
    });
  });
  return rows
    .map((row) => ({ row, parts: versionParts(row.kubernetesVersion) ?? [] }))
    .sort((a, b) => compareVersions(b.parts, a.parts))
    .map((x) => x.row);
}

/** az's `transform_resource_group_list` (resource/commands.py): Name, Location, Status. */
export function resourceGroupListTable(result: unknown): unknown {
  return asList(result).map((r) => ({ Name: r.name, Location: r.location, Status: asObject(r.properties).provisioningState }));
}

/** az's `feature list` and `feature show` (resource/commands.py): `{Name:name, RegistrationState:properties.state}`. */
export function featureTable(result: unknown): unknown {
  const row = (r: JsonObject) => ({ Name: r.name ?? null, RegistrationState: asObject(r.properties).state ?? null });
  return Array.isArray(result) ? result.map(row) : row(asObject(result));
}

/**
 * az's `get_graph_object_transformer('app' | 'sp')` (role/commands.py): DisplayName, Id (the Graph object
 * id, which az's automatic table would hide), AppId, CreatedDateTime, sorted by display name.
 */
export function graphApplicationTable(result: unknown): unknown {
  const name = (r: JsonObject) => String(r.displayName ?? '');
  return [...asList(result)]
    .sort((a, b) => (name(a) < name(b) ? -1 : name(a) > name(b) ? 1 : 0))
    .map((r) => ({
      DisplayName: r.displayName ?? null,
      Id: r.id ?? null,
      AppId: r.appId ?? null,
      CreatedDateTime: r.createdDateTime ?? null,
    }));
}

/** az's `transform_definition_list` (role/commands.py): Name, Type, Description. */
export function roleDefinitionTable(result: unknown): unknown {
  return asList(result).map((r) => ({ Name: r.roleName ?? '', Type: r.type ?? '', Description: r.description ?? '' }));
}

/** az's `transform_assignment_list` (role/commands.py): Principal, Role, Scope. */
export function roleAssignmentTable(result: unknown): unknown {
  return asList(result).map((r) => ({ Principal: r.principalName ?? '', Role: r.roleDefinitionName ?? '', Scope: r.scope ?? '' }));
}
