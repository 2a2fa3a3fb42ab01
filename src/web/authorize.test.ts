import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Application } from '../store/index.js';
import { matchRedirectUri } from './authorize.js';

const app = (pub: string[], web: string[] = []) => ({ publicClientRedirectUris: pub, webRedirectUris: web }) as Application;

describe('redirect URI matching', () => {
  it('is exact for ordinary URIs', () => {
    assert.equal(matchRedirectUri(app([], ['https://app.example/cb']), 'https://app.example/cb'), 'web');
    assert.equal(matchRedirectUri(app([], ['https://app.example/cb']), 'https://app.example/cb/'), null);
    assert.equal(matchRedirectUri(app([], ['https://app.example/cb']), 'https://APP.example/cb?x=1'), null);
  });

  it('lets a registered loopback URI match any port, and nothing else (RFC 8252)', () => {
    assert.equal(matchRedirectUri(app(['http://localhost']), 'http://localhost:51234'), 'public');
    assert.equal(matchRedirectUri(app(['http://127.0.0.1/cb']), 'http://127.0.0.1:8400/cb'), 'public');
    assert.equal(matchRedirectUri(app(['http://localhost']), 'http://evil.example:51234'), null);
    assert.equal(
      matchRedirectUri(app(['http://localhost:8000']), 'http://localhost:9000'),
      'public',
      'Entra ignores the port of a loopback URI',
    );
    assert.equal(matchRedirectUri(app(['http://localhost']), 'https://localhost:51234'), null);
    assert.equal(matchRedirectUri(app(['http://localhost']), 'http://localhost.evil.com:51234'), null);
    assert.equal(matchRedirectUri(app(['http://localhost']), 'http://localhost@evil.example'), null);
    assert.equal(matchRedirectUri(app(['http://localhost']), 'http://user@localhost:1234'), null);
    assert.equal(matchRedirectUri(app(['http://127.0.0.1/cb']), 'http://127.0.0.1:8400/cb/'), null);
    assert.equal(matchRedirectUri(app(['http://127.0.0.1/cb']), 'http://127.0.0.1:8400/cb?x=1'), null);
  });
});
