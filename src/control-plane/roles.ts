// Azure built-in role definitions Kentra knows (IDs are Azure's).
export const OWNER_ROLE_ID = '8e3af657-a8ff-443c-a75c-2fe8c4bcb635';
export const CONTRIBUTOR_ROLE_ID = 'b24988ac-6180-42a0-ab88-20f7382dd24c';
export const READER_ROLE_ID = 'acdd72a7-3385-48ef-bd42-f606fba81ae7';

export const BUILT_IN_ROLES: Record<string, string> = {
  Owner: OWNER_ROLE_ID,
  Contributor: CONTRIBUTOR_ROLE_ID,
  Reader: READER_ROLE_ID,
};

export function roleDefinitionResourceId(subscriptionId: string, roleId: string): string {
  return `/subscriptions/${subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${roleId}`;
}
