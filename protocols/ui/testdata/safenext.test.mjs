// Unit test of GH.safeNext (static/app.js), run by TestSafeNextInNode
// with `node --test`. app.js is a browser script: it is evaluated in a
// context whose only browser global is `location`, which safeNext uses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import vm from 'node:vm';

const origin = 'https://idm.example.com:8443';
const src = readFileSync(new URL('../static/app.js', import.meta.url), 'utf8');
const ctx = vm.createContext({ location: { origin, href: origin + '/ui/login' }, URL });
const GH = vm.runInContext(src + '\n;GH', ctx, { filename: 'app.js' });

test('paths on this origin under /ui/ are kept, as absolute URLs', () => {
  for (const [next, want] of [
    ['/ui/sessions', '/ui/sessions'],
    ['/ui/update?x=1#y', '/ui/update?x=1#y'],
    ['/ui/./update', '/ui/update'],
  ]) {
    assert.equal(GH.safeNext(next), origin + want, next);
  }
});

test('anything that could leave the origin or /ui/ is refused', () => {
  for (const next of [
    '', null, undefined, 'https://evil.example/ui/x', 'evil.example/ui/x', 'ui/sessions',
    '//evil.example/x', '/\\evil.example/x', '\\\\evil.example/x',
    '/.//evil.example/x', '/..//evil.example/x', '/%2e//evil.example/x', '/%2E%2E//evil.example/x',
    '/./\\evil.example/x', '/.\\/evil.example/x', '/ui/..//evil.example/x', '/ui/../..//evil.example/x',
    '/\t/evil.example/x', '/ui/\n/evil', 'javascript:alert(1)', '/javascript:alert(1)', '/v1/self', '/ui',
  ]) {
    const got = GH.safeNext(next);
    assert.equal(got, '', `${JSON.stringify(next)} gave ${JSON.stringify(got)}`);
  }
});
