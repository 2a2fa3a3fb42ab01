#!/usr/bin/env node
// Reserved for Kentra's kubelogin (a drop-in for Azure/kubelogin); the credential plugin lands with its own issue.
process.stderr.write('Error: kentra\'s kubelogin is not implemented yet; use upstream kubelogin with --authority-host and --disable-instance-discovery\n');
process.exit(1);
