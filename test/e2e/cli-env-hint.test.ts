import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { KENTRA_BIN, startTestKentra, type TestKentra } from '../support/kentra.js';
import { createNetns, netnsSkip, startKentraIn, type KentraInNetns, type Netns } from '../support/netns.js';
import { machinePath } from '../support/user-shell.js';

// The lines `kentra up` prints for the user's next terminal run there as printed: a fresh bash with
// only the machine's PATH (no kentra yet) and a HOME, in a folder that is not the checkout. The hint
// names kentra the way that shell can run it, and the data directory when it is not ~/.kentra.

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** A user's new terminal: bash with the machine's PATH and this HOME, in `cwd`, nothing else. */
function freshShell(script: string, home: string, cwd = home): Promise<Run> {
  return new Promise((resolveRun) => {
    const child = spawn('bash', ['-c', `set -e\n${script}`], {
      cwd,
      env: { PATH: machinePath(), HOME: home, LANG: 'C.UTF-8' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolveRun({ code: code ?? -1, stdout, stderr }));
  });
}

/** The command of the summary's `Ready a shell with: …   (it prints:)` line. */
function readyLine(summary: string): string {
  const m = /^ {2}Ready a shell with: (.*?) {3}\(it prints:\)$/m.exec(summary);
  assert.ok(m, summary);
  return m[1]!;
}

const script = realpathSync(KENTRA_BIN);

describe("kentra up's hint for the next terminal works as printed", { timeout: 120_000 }, () => {
  let home: string;
  let elsewhere: TestKentra;
  let byDefault: TestKentra;

  before(async () => {
    home = mkdtempSync(join(tmpdir(), 'kentra-env-hint-'));
    // One in a data directory of its own (README step 1's `--data-dir`), one in ~/.kentra of this HOME (the default).
    [elsewhere, byDefault] = await Promise.all([
      startTestKentra(),
      startTestKentra({ dataDir: join(home, '.kentra'), env: { HOME: home, KENTRA_DATA_DIR: '' } }),
    ]);
  });
  after(async () => {
    await elsewhere?.close();
    await byDefault?.close();
    rmSync(home, { recursive: true, force: true });
  });

  it('with --data-dir: the hint names it and runs kentra by its path; afterwards `kentra` is a command that talks to that Kentra', async () => {
    const hint = readyLine(elsewhere.stdout());
    assert.equal(hint, `eval "$(node ${script} env --data-dir ${elsewhere.dataDir})"`);
    const { admin, subscriptionId } = elsewhere.endpoints;
    const r = await freshShell(
      `${hint}
command -v kentra
echo "KENTRA_DATA_DIR=$KENTRA_DATA_DIR"
kentra login -u '${admin.userPrincipalName}' -p '${admin.password}' --query '[0].id' -o tsv`,
      home,
    );
    assert.equal(r.code, 0, `${r.stderr}${r.stdout}`);
    const [kentra, dataDir, subscription] = r.stdout.split('\n');
    assert.match(kentra!, /\/kentra$/);
    assert.equal(dataDir, `KENTRA_DATA_DIR=${elsewhere.dataDir}`);
    assert.equal(subscription, subscriptionId, "the Kentra of that data directory, not ~/.kentra's");
  });

  it('in ~/.kentra: no --data-dir, and the same works from any folder', async () => {
    const hint = readyLine(byDefault.stdout());
    assert.equal(hint, `eval "$(node ${script} env)"`);
    const r = await freshShell(`${hint}\nkentra env --json | grep -c '"authority": "${byDefault.endpoints.authority}"'`, home, tmpdir());
    assert.equal(r.code, 0, `${r.stderr}${r.stdout}`);
    assert.equal(r.stdout, '1\n');
  });
});

describe("kentra up --azure-hostnames: the hints that apply to Microsoft's host names", { skip: netnsSkip(), timeout: 120_000 }, () => {
  let ns: Netns;
  let k: KentraInNetns;
  let home: string;

  before(async () => {
    home = mkdtempSync(join(tmpdir(), 'kentra-env-hint-byname-'));
    ns = createNetns();
    k = await startKentraIn(ns);
  });
  after(async () => {
    await k?.stop();
    await ns?.close();
    rmSync(home, { recursive: true, force: true });
  });

  it('neither the summary nor kentra env tells az to register a Kentra cloud: az stays in AzureCloud', async () => {
    const summary = k.logs();
    const env = await freshShell(`${readyLine(summary).replace(/^eval "\$\((.*)\)"$/, '$1')}`, home);
    assert.equal(env.code, 0, env.stderr);
    for (const text of [summary, env.stdout]) {
      assert.doesNotMatch(text, /az cloud register|az config set core\.instance_discovery/, text);
      assert.match(text, /# The Azure CLI needs no set-up: it stays in its default AzureCloud/);
    }
  });

  it("the /etc/hosts hint names this data directory and prints Microsoft's names", async () => {
    const m = /^ {2}Point Microsoft's names at it: (.*) \| sudo tee -a \/etc\/hosts$/m.exec(k.logs());
    assert.ok(m, k.logs());
    assert.equal(m[1], `node ${script} env --data-dir ${k.dataDir} --hosts`);
    const r = await freshShell(m[1]!, home);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^# Kentra /);
    assert.match(r.stdout, /^127\.0\.0\.1 login\.microsoftonline\.com$/m);
  });
});
