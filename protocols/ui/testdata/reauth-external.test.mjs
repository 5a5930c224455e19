// Unit test of GH.reauthFlow (static/app.js) for sessions made by Kerberos
// or an upstream provider: POST /v1/reauth answers reauth_external with a
// reauth_url, and the page confirms there instead of running the stepped
// login. Run by TestScriptsInNode with `node --test`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import vm from 'node:vm';

const read = (f) => readFileSync(new URL(`../static/${f}`, import.meta.url), 'utf8');
const origin = 'https://idm.example.com:8443';

// page loads app.js; fetch answers from the list, one per call.
function page(answers) {
  const els = new Map();
  const el = (id) => {
    if (!els.has(id)) {
      els.set(id, { id, hidden: false, textContent: '', addEventListener() {}, focus() {} });
    }
    return els.get(id);
  };
  const calls = [];
  const assigned = [];
  const ctx = vm.createContext({
    URL, URLSearchParams, JSON, Object, Promise,
    document: { getElementById: el },
    location: { origin, pathname: '/ui/account', search: '?tab=1', href: `${origin}/ui/account?tab=1`, assign: (u) => assigned.push(u) },
    fetch: async (path, opts) => {
      calls.push({ path, opts });
      const a = answers.shift();
      return { ok: a.status < 300, status: a.status, headers: { get: () => null }, text: async () => a.body };
    },
  });
  vm.runInContext(read('app.js') + '\n;globalThis.GH = GH;', ctx, { filename: 'app.js' });
  return { GH: ctx.GH, el, calls, assigned };
}

test('an SSO session goes to the reauth page with next = this page', async () => {
  const p = page([{ status: 403, body: '{"error":"confirm your sign-in through your identity provider","code":"reauth_external","reauth_url":"/ui/sso/reauth?next=%2Fui%2Faccount"}' }]);
  let done = 0;
  await p.GH.reauthFlow(async () => 'x', () => { done++; });
  assert.equal(p.calls.length, 1);
  assert.equal(p.calls[0].path, '/v1/reauth');
  assert.deepEqual(p.assigned, [`${origin}/ui/sso/reauth?next=%2Fui%2Faccount%3Ftab%3D1`]);
  assert.equal(done, 0);
});

test('a Kerberos session confirms with a fetch, then the change is retried', async () => {
  const p = page([
    { status: 403, body: '{"error":"confirm with Kerberos","code":"reauth_external","reauth_url":"/v1/auth/spnego?reauth=1"}' },
    { status: 200, body: '{"expires":"2030-01-01T00:00:00Z","name":"kim"}' },
  ]);
  const results = [];
  await p.GH.reauthFlow(async () => 'deleted', (r) => results.push(r));
  assert.equal(p.calls.length, 2);
  assert.equal(p.calls[1].path, '/v1/auth/spnego?reauth=1');
  assert.equal(p.calls[1].opts.method, 'GET');
  assert.equal(p.calls[1].opts.credentials, 'same-origin');
  assert.deepEqual(results, ['deleted']);
  assert.deepEqual(p.assigned, []);
  assert.equal(p.el('error').textContent, '');
});

test('a failed Kerberos confirmation says why and retries nothing', async () => {
  const p = page([
    { status: 403, body: '{"error":"confirm with Kerberos","code":"reauth_external","reauth_url":"/v1/auth/spnego?reauth=1"}' },
    { status: 401, body: '{"error":"Kerberos login is available","code":"negotiate"}' },
  ]);
  let done = 0;
  await p.GH.reauthFlow(async () => 'x', () => { done++; });
  assert.equal(done, 0);
  assert.match(p.el('error').textContent, /^Kerberos confirmation failed: Kerberos login is available/);
});

test('a reauth_url of another origin is not followed', async () => {
  const p = page([{ status: 403, body: '{"error":"x","code":"reauth_external","reauth_url":"https://evil.example/ui/sso/reauth"}' }]);
  await p.GH.reauthFlow(async () => 'x', () => {});
  assert.deepEqual(p.assigned, []);
  assert.match(p.el('error').textContent, /did not say how/);
});
