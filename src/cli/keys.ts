import { InvalidArgumentError, type Command } from 'commander';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Store } from '../store/index.js';

// `kentra keys`: the signing keys in the store that `kentra up` uses. Works beside running instances:
// it writes the store, and every instance re-reads the key list every few seconds.

interface StoreOptions {
  dataDir?: string;
  store?: string;
}

// The modules behind these commands load on use, so registering them costs every other command nothing.
// These two mirror KEY_RELOAD_INTERVAL_MS and DEFAULT_ROTATION.retentionMs (identity/tokens/keys.ts) for the help text.
const RELOAD_S = 5;
const RETENTION_H = 48;
const DEFAULT_LEAD_S = 2 * RELOAD_S;

async function withStore<T>(opts: StoreOptions, fn: (store: Store) => Promise<T>): Promise<T> {
  const { openStore } = await import('../store/index.js');
  const { sealerForDataDir } = await import('../shared/key-sealing.js');
  // As `kentra up`: --data-dir, else $KENTRA_DATA_DIR, else ~/.kentra.
  const dataDir = resolve(opts.dataDir ?? (process.env.KENTRA_DATA_DIR || join(homedir(), '.kentra')));
  const store = await openStore({ url: opts.store ?? process.env.KENTRA_STORE, dataDir, sealer: sealerForDataDir(dataDir) });
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

const iso = (t: number) => new Date(t).toISOString().replace(/\.\d{3}Z$/, 'Z');

const leadSeconds = (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 86_400) throw new InvalidArgumentError('a whole number of seconds from 0 to 86400');
  return n;
};

function storeOptions(c: Command): Command {
  return c
    .option('--data-dir <dir>', 'data directory of the embedded store [env KENTRA_DATA_DIR, default ~/.kentra]')
    .option('--store <url>', 'store URL, as given to `kentra up` [env KENTRA_STORE]')
    .option('--json', 'print JSON');
}

export function registerKeysCommands(program: Command): void {
  const keys = program
    .command('keys')
    .description('List or rotate the token signing keys in the store (shared by every `kentra up` on it).');

  storeOptions(keys.command('list'))
    .description('List the signing keys: the one that signs now, the next one, and retired ones still published.')
    .action(async (opts: StoreOptions & { json?: boolean }) => {
      const { describeKeys } = await import('../identity/tokens/keys.js');
      const now = Date.now();
      const list = await withStore(opts, (store) => describeKeys(store, now));
      if (opts.json) {
        process.stdout.write(
          `${JSON.stringify(
            list.map((k) => ({
              kid: k.kid,
              state: k.state,
              publishAt: iso(k.publishAt),
              activateAt: iso(k.activateAt),
              retireAt: iso(k.retireAt),
              expireAt: iso(k.expireAt),
            })),
            null,
            2,
          )}\n`,
        );
        return;
      }
      if (list.length === 0) {
        process.stdout.write('No signing keys yet: the first `kentra up` on this store creates one.\n');
        return;
      }
      const rows = [['KID', 'STATE', 'PUBLISHED', 'SIGNS FROM', 'RETIRES', 'UNPUBLISHED']].concat(
        list.map((k) => [k.kid, k.state, iso(k.publishAt), iso(k.activateAt), iso(k.retireAt), iso(k.expireAt)]),
      );
      const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
      process.stdout.write(
        `${rows
          .map((r) =>
            r
              .map((v, i) => v.padEnd(widths[i]!))
              .join('  ')
              .trimEnd(),
          )
          .join('\n')}\n`,
      );
    });

  storeOptions(keys.command('rotate'))
    .description('Add a new signing key that takes over after a short lead; the previous keys stay published until they expire.')
    .option(
      '--activate-in <seconds>',
      `seconds from now until the new key signs (0: at once); the lead lets every running instance load it before any signs with it`,
      leadSeconds,
      DEFAULT_LEAD_S,
    )
    .addHelpText(
      'after',
      `
Running instances re-read the keys every ${RELOAD_S} s: they publish the new key in their JWKS within
that, and sign with it from its activation time. An instance asked to verify a token naming a key it
has not loaded yet re-reads the store first. Old keys keep verifying the tokens they signed until
they expire (${RETENTION_H} h after the end of their signing period).`,
    )
    .action(async (opts: StoreOptions & { json?: boolean; activateIn: number }) => {
      const { KeyRing } = await import('../identity/tokens/keys.js');
      const key = await withStore(opts, async (store) => {
        const ring = new KeyRing(store, { now: () => Date.now() });
        // No key at all yet: `rotate` creates the first one (as `kentra up` would).
        return ring.rotate(opts.activateIn * 1000);
      });
      if (opts.json) {
        process.stdout.write(
          `${JSON.stringify({ kid: key.kid, publishAt: iso(key.publishAt), activateAt: iso(key.activateAt), retireAt: iso(key.retireAt), expireAt: iso(key.expireAt) }, null, 2)}\n`,
        );
        return;
      }
      process.stdout.write(
        [
          `Added signing key ${key.kid}.`,
          `  Published now (${iso(key.publishAt)}); signs from ${iso(key.activateAt)}${opts.activateIn ? ` (in ${opts.activateIn} s)` : ' (at once)'}; retires ${iso(key.retireAt)}.`,
          `  Running instances pick it up within ${RELOAD_S} s. The previous keys stay published until they expire.`,
          '',
        ].join('\n'),
      );
    });
}
