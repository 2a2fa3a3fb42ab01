import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { kentraCommand, kentraEnvCommand, shellWord } from './client-env.js';

// How `kentra up` names kentra in the commands it prints for the user's next shell: by the name that
// shell finds on its PATH, else by a path that runs from any folder.

describe('kentraCommand and kentraEnvCommand', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kentra-command-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const script = join(dir, 'pkg', 'dist', 'src', 'cli', 'bin.cjs');
  mkdirSync(join(dir, 'pkg', 'dist', 'src', 'cli'), { recursive: true });
  writeFileSync(script, '#!/usr/bin/env node\n');
  chmodSync(script, 0o755);
  const link = (folder: string) => {
    mkdirSync(folder, { recursive: true });
    symlinkSync(script, join(folder, 'kentra'));
    return join(folder, 'kentra');
  };
  const globalBin = join(dir, 'global', 'bin');
  link(globalBin);
  const projectBin = join(dir, 'project', 'node_modules', '.bin');
  const projectLink = link(projectBin);

  it('a checkout (npm start): node and the script, whatever the folder the next shell is in', () => {
    assert.equal(kentraCommand(script, '/usr/bin:/bin'), `node ${script}`);
  });

  it('installed on the PATH (npm install -g): kentra', () => {
    assert.equal(kentraCommand(script, `/usr/bin:${globalBin}`), 'kentra');
    assert.equal(kentraCommand(join(globalBin, 'kentra'), globalBin), 'kentra');
  });

  it("a project's node_modules/.bin, which only npm run puts on the PATH: the link's path", () => {
    assert.equal(kentraCommand(projectLink, `${projectBin}:/usr/bin`), projectLink);
  });

  it('--data-dir unless the data directory is ~/.kentra; quoted for the shell when it must be', () => {
    assert.equal(kentraEnvCommand(join(homedir(), '.kentra'), script, ''), `node ${script} env`);
    assert.equal(kentraEnvCommand('/tmp/k', script, ''), `node ${script} env --data-dir /tmp/k`);
    assert.equal(kentraEnvCommand("/tmp/my k's", script, ''), `node ${script} env --data-dir '/tmp/my k'\\''s'`);
    assert.equal(shellWord('/home/you/.kentra'), '/home/you/.kentra');
  });
});
