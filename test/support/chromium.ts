import { connect } from 'node:tls';
import { createHash } from 'node:crypto';
import type { Browser } from 'playwright-core';
import { commandPath, packageSkip } from './packages.js';

/** The Debian `chromium` binary, or undefined when the package is absent. */
export function chromiumPath(): string | undefined {
  return commandPath('chromium') || commandPath('chromium-browser') || undefined;
}

export const CHROMIUM_SKIP = packageSkip(chromiumPath() !== undefined, 'chromium', 'Chromium');

/** base64 SHA-256 of the server certificate's SubjectPublicKeyInfo, the form Chromium's pin list takes. */
async function spkiPin(origin: string): Promise<string> {
  const { hostname, port } = new URL(origin);
  return new Promise((resolvePin, reject) => {
    const socket = connect(
      { host: hostname, port: Number(port), servername: hostname === '127.0.0.1' ? undefined : hostname, rejectUnauthorized: false },
      () => {
        const cert = socket.getPeerCertificate();
        socket.end();
        resolvePin(createHash('sha256').update(cert.pubkey!).digest('base64'));
      },
    );
    socket.on('error', reject);
  });
}

/**
 * The real Chromium from Debian, headless, driven by playwright-core (never a downloaded browser).
 * It trusts exactly the certificate `origin` serves (pinned by its public key), nothing more.
 */
export async function launchChromium(origin: string): Promise<Browser> {
  const executablePath = chromiumPath();
  if (!executablePath) throw new Error('chromium is not installed (apt-get install chromium)');
  const { chromium } = await import('playwright-core');
  return chromium.launch({ executablePath, headless: true, args: [`--ignore-certificate-errors-spki-list=${await spkiPin(origin)}`] });
}
