// placeholder until the shell's session is merged
export function currentTenantId(): string {
  return '';
}
