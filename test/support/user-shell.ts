import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { completeDeviceLogin } from './kentra.js';

/** PATH without any kentra or kubelogin: only what the machine has (node, kubectl, bash…). */
export function machinePath(): string {
  return (process.env.PATH ?? '')
    .split(':')
    .filter((p) => p && !existsSync(join(p, 'kubelogin')) && !existsSync(join(p, 'kentra')))
    .join(':');
}

/** Who signs in when a command prints a device code: the person at the keyboard. */
export interface SignIn {
  username: string;
  password: string;
}

export interface BlockRun {
  /** The exit status of the block's last command, as `$?` after it. */
  code: number;
  stdout: string;
  stderr: string;
  /** How many device-code sign-ins were completed during the block. */
  signIns: number;
}

const DEVICE_CODE = /enter the code ([A-Z0-9]{9}) to authenticate/g;

/**
 * One terminal a user types into: a single bash process that keeps its variables, PATH and working
 * folder from one block to the next (so `eval "$(kentra env)"` in one block holds for the next).
 * Each block runs as typed (no `set -e`: a failing command prints its error and the next runs). A
 * device-code prompt on stderr is completed on `<authority>/devicelogin` as the block's `signIn`
 * user, the way a person does it in a browser.
 */
export class UserShell {
  private readonly bash: ChildProcessWithoutNullStreams;
  private readonly scripts = mkdtempSync(join(tmpdir(), 'kentra-user-shell-'));
  private stdout = '';
  private stderr = '';
  private blocks = 0;
  private exited = false;

  constructor(private readonly opts: { cwd: string; env: NodeJS.ProcessEnv; authority: string; caFile: string }) {
    this.bash = spawn('bash', ['--noprofile', '--norc'], { cwd: opts.cwd, env: opts.env, stdio: ['pipe', 'pipe', 'pipe'] });
    this.bash.stdout.on('data', (d: Buffer) => {
      this.stdout += d.toString();
    });
    this.bash.stderr.on('data', (d: Buffer) => {
      this.stderr += d.toString();
    });
    this.bash.on('exit', () => {
      this.exited = true;
    });
  }

  /** Runs one block of commands in the shell and resolves when its last command has finished. */
  run(script: string, signIn?: SignIn, timeoutMs = 60_000): Promise<BlockRun> {
    const n = ++this.blocks;
    const file = join(this.scripts, `block-${n}.sh`);
    writeFileSync(file, script);
    const marker = `__user_shell_block_${n}_done__`;
    const outStart = this.stdout.length;
    const errStart = this.stderr.length;
    const signIns: Promise<string>[] = [];
    const seenCodes = new Set<string>();
    return new Promise<BlockRun>((resolveRun, reject) => {
      const timer = setTimeout(() => {
        cleanup();
        reject(
          new Error(
            `block ${n} did not finish within ${timeoutMs} ms\nstdout: ${this.stdout.slice(outStart)}\nstderr: ${this.stderr.slice(errStart)}`,
          ),
        );
      }, timeoutMs);
      const check = async () => {
        const err = this.stderr.slice(errStart);
        for (const m of err.matchAll(DEVICE_CODE)) {
          if (seenCodes.has(m[1]!)) continue;
          seenCodes.add(m[1]!);
          if (!signIn) {
            cleanup();
            reject(new Error(`block ${n} asked for a device-code sign-in, and no user was given:\n${err}`));
            return;
          }
          signIns.push(completeDeviceLogin(this.opts.authority, this.opts.caFile, m[1]!, signIn.username, signIn.password));
        }
        const out = this.stdout.slice(outStart);
        const done = new RegExp(`${marker} (\\d+)\\n$`).exec(out);
        if (done && err.endsWith(`${marker}\n`)) {
          cleanup();
          try {
            await Promise.all(signIns);
          } catch (e) {
            reject(e);
            return;
          }
          resolveRun({
            code: Number(done[1]),
            stdout: out.slice(0, done.index),
            stderr: err.slice(0, -`${marker}\n`.length),
            signIns: signIns.length,
          });
        } else if (this.exited) {
          cleanup();
          reject(new Error(`the shell exited during block ${n}\nstdout: ${out}\nstderr: ${err}`));
        }
      };
      const onData = () => {
        void check();
      };
      const cleanup = () => {
        clearTimeout(timer);
        this.bash.stdout.off('data', onData);
        this.bash.stderr.off('data', onData);
        this.bash.off('exit', onData);
      };
      this.bash.stdout.on('data', onData);
      this.bash.stderr.on('data', onData);
      this.bash.on('exit', onData);
      // stdin of the block is /dev/null, so no command reads the rest of the session as its input.
      this.bash.stdin.write(`source '${file}' </dev/null; echo "${marker} $?"; echo "${marker}" >&2\n`);
    });
  }

  async close(): Promise<void> {
    if (!this.exited) {
      const exited = new Promise((r) => this.bash.once('exit', r));
      this.bash.stdin.end('exit\n');
      await exited;
    }
    rmSync(this.scripts, { recursive: true, force: true });
  }
}
