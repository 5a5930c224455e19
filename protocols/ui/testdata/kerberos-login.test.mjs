// Unit test of the login page's "Sign in with Kerberos" button
// (static/login.js), run by TestScriptsInNode with `node --test`. The page's
// scripts run in a context with a minimal fake document and fetch: the
// browser's own Negotiate handling is not simulated, only what fetch then
// returns (200 with the cookie set, or the server's 401/404 answer).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import vm from 'node:vm';

const read = (f) => readFileSync(new URL(`../static/${f}`, import.meta.url), 'utf8');
const origin = 'https://idm.example.com:8443';

// page loads app.js and login.js with fetch answering `answer`.
function page(answer) {
  const els = new Map();
  const el = (id) => {
    if (!els.has(id)) {
      const handlers = {};
      els.set(id, {
        id, hidden: false, disabled: false, textContent: '', value: '', dataset: {}, focused: 0,
        addEventListener(ev, fn) { handlers[ev] = fn; },
        fire(ev) { return handlers[ev]({ preventDefault() {} }); },
        focus() { this.focused++; },
        replaceChildren() {}, append() {},
      });
    }
    return els.get(id);
  };
  const calls = [];
  const assigned = [];
  const ctx = vm.createContext({
    URL, URLSearchParams, JSON, Object, Promise,
    document: { getElementById: el },
    location: { origin, href: `${origin}/ui/login?next=%2Fui%2Fupdate`, search: '?next=%2Fui%2Fupdate', assign: (u) => assigned.push(u) },
    fetch: async (path, opts) => {
      calls.push({ path, opts });
      return { ok: answer.status < 300, status: answer.status, headers: { get: () => null }, text: async () => answer.body };
    },
  });
  vm.runInContext(read('app.js') + '\n;globalThis.GH = GH;', ctx, { filename: 'app.js' });
  vm.runInContext(read('login.js'), ctx, { filename: 'login.js' });
  return { el, calls, assigned };
}

test('a 200 from /v1/auth/spnego?issue=cookie goes to ?next=', async () => {
  const p = page({ status: 200, body: '{"expires":"2030-01-01T00:00:00Z","name":"alice"}' });
  await p.el('kerberos-login').fire('click');
  assert.equal(p.calls.length, 1);
  assert.equal(p.calls[0].path, '/v1/auth/spnego?issue=cookie');
  assert.equal(p.calls[0].opts.method, 'GET');
  assert.equal(p.calls[0].opts.credentials, 'same-origin');
  assert.deepEqual(p.assigned, [`${origin}/ui/update`]);
  assert.equal(p.el('error').textContent, '');
});

test('the bare challenge (no ticket) says to use the password', async () => {
  const p = page({ status: 401, body: '{"error":"Kerberos login is available: send Authorization: Negotiate","code":"negotiate"}' });
  await p.el('kerberos-login').fire('click');
  assert.equal(p.el('error').textContent, 'No Kerberos ticket: sign in with your password instead.');
  assert.deepEqual(p.assigned, []);
  assert.equal(p.el('kerberos-login').disabled, false);
  assert.ok(p.el('name').focused > 0, 'the name field takes the focus');
});

test('a refused ticket shows the server reason', async () => {
  const p = page({ status: 401, body: '{"error":"principal bob@EXAMPLE.COM is not mapped to any account","code":"krb_unmapped"}' });
  await p.el('kerberos-login').fire('click');
  assert.equal(p.el('error').textContent, 'Kerberos sign-in refused: principal bob@EXAMPLE.COM is not mapped to any account');
  assert.deepEqual(p.assigned, []);
});

test('a server without Kerberos says so', async () => {
  const p = page({ status: 404, body: '{"error":"Kerberos (SPNEGO) login is not configured on this server","code":"not_found"}' });
  await p.el('kerberos-login').fire('click');
  assert.match(p.el('error').textContent, /^Kerberos sign-in is not set up on this server/);
});
