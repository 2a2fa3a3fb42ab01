import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Endpoints } from './kentra.js';
import { onPath, packageSkip } from './packages.js';

// The real Azure CLI (Debian azure-cli 2.45) registered against a Kentra as README's docs/azure-cli.md says.

export const hasAz = onPath('az');
export const azSkip = packageSkip(hasAz, 'azure-cli', 'the Azure CLI (az)');

export interface AzResult { code: number; stdout: string; stderr: string }

export interface Az {
  env: NodeJS.ProcessEnv;
  run(...args: string[]): Promise<AzResult>;
  json(...args: string[]): Promise<any>;
  tsv(...args: string[]): Promise<string>;
  close(): void;
}

/** A fresh az configuration (own config dir and HOME) with Kentra registered as the active cloud. */
export async function azFor(e: Endpoints): Promise<Az> {
  const home = mkdtempSync(join(tmpdir(), 'kentra-az-'));
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH, HOME: home, AZURE_CONFIG_DIR: join(home, '.azure'), AZURE_CORE_COLLECT_TELEMETRY: 'false',
    AZURE_CORE_NO_COLOR: 'true', REQUESTS_CA_BUNDLE: e.caFile,
  };
  const run = (...args: string[]) => new Promise<AzResult>((resolve) => {
    const child = spawn('az', args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
  const ok = async (...args: string[]) => {
    const r = await run(...args);
    assert.equal(r.code, 0, `az ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
    return r;
  };
  const cloud = {
    endpoints: {
      resourceManager: `${e.authority}/`, activeDirectory: `${e.authority}/adfs`, activeDirectoryResourceId: 'https://management.core.windows.net/',
      activeDirectoryGraphResourceId: 'https://graph.windows.net/', microsoftGraphResourceId: `${e.authority}/`, management: 'https://management.core.windows.net/',
    },
    suffixes: { storageEndpoint: 'core.windows.net', keyvaultDns: '.vault.azure.net', acrLoginServerEndpoint: '.azurecr.io' },
  };
  writeFileSync(join(home, 'cloud.json'), JSON.stringify(cloud));
  await ok('cloud', 'register', '-n', 'Kentra', '--cloud-config', `@${join(home, 'cloud.json')}`);
  await ok('cloud', 'set', '-n', 'Kentra');
  return {
    env, run,
    json: async (...args) => JSON.parse((await ok(...args, '-o', 'json')).stdout || 'null'),
    tsv: async (...args) => (await ok(...args, '-o', 'tsv')).stdout.trim(),
    close: () => rmSync(home, { recursive: true, force: true }),
  };
}
