// Drives Debian's Chromium through the Gatehouse web pages with virtual
// WebAuthn authenticators (CDP), for integration/browser_test.go.
//
// Configuration: JSON in GATEHOUSE_BROWSER_CONFIG:
//   {"base":"https://localhost:PORT","token":"<reset token>","resetPath":"/ui/reset#token=…","name":"alice",
//    "password":"…","chromium":"/usr/bin/chromium","timeoutMs":120000,"artifacts":"/tmp/…"}
// Protocol with the Go test: after each step the driver prints one JSON line
// {"step":NAME,...} on stdout and waits for a line on stdin: "ok" goes on,
// anything else stops. The last line is {"done":true}; a failure prints
// {"error":…} and exits 1. Diagnostics go to stderr.
import { createHmac } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { start } from './harness.mjs';

const h = start({
  env: 'GATEHOUSE_BROWSER_CONFIG', required: ['base', 'token', 'resetPath', 'name', 'password'],
  timeoutMs: 120000, stepTimeoutMs: 20000, profile: 'gatehouse-chromium-',
});
const { cfg, stepTimeout, log, until } = h;

// --- the protocol with the Go test ------------------------------------------
const rl = readline.createInterface({ input: process.stdin });
const lines = rl[Symbol.asyncIterator]();
async function report(step, data = {}) {
  console.log(JSON.stringify({ step, ...data }));
  const { value, done } = await lines.next();
  if (done || value.trim() !== 'ok') throw new Error(`the test stopped after step ${step}: ${done ? 'stdin closed' : value}`);
}

// totpCode computes the current code of an otpauth:// URI (RFC 6238), as
// an authenticator app would after scanning the page's QR code.
function totpCode(uri) {
  const u = new URL(uri);
  const secret = u.searchParams.get('secret').toUpperCase().replace(/=+$/, '');
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const ch of secret) bits += alphabet.indexOf(ch).toString(2).padStart(5, '0');
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const algo = (u.searchParams.get('algorithm') || 'SHA1').toLowerCase();
  const digits = Number(u.searchParams.get('digits') || 6);
  const period = Number(u.searchParams.get('period') || 30);
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(Date.now() / 1000 / period)));
  const mac = createHmac(algo, key).update(counter).digest();
  const off = mac[mac.length - 1] & 0xf;
  const n = (mac.readUInt32BE(off) & 0x7fffffff) % 10 ** digits;
  return String(n).padStart(digits, '0');
}

// --- page helpers --------------------------------------------------------------
const untilVisible = (page, id) => until(page, `#${id} shown`, (x) => { const e = document.getElementById(x); return !!e && !e.hidden; }, id);
const statusHas = (page, text) => until(page, `status "${text}"`, (t) => document.getElementById('status').textContent.includes(t), text);
const atPath = (page, p) => until(page, `page ${p}`, (x) => location.pathname === x, p);

// authenticate answers the login steps shown on the page: it picks mech
// when offered a choice and types the password when asked; WebAuthn
// ceremonies run by themselves against the virtual authenticators.
async function authenticate(page, mech, done, doneArg) {
  const deadline = Date.now() + stepTimeout;
  let chose = false;
  for (;;) {
    if (await page.evaluate(done, doneArg).catch(() => false)) return;
    const st = await page.evaluate(() => {
      const v = (id) => { const e = document.getElementById(id); return !!e && !e.hidden; };
      return { choose: v('choose'), password: v('password-form'), error: document.getElementById('error').textContent.trim() };
    }).catch(() => ({}));
    if (st.error) throw new Error(`login with ${mech}: the page says: ${st.error}`);
    if (st.choose && !chose) {
      const b = page.locator(`#choose-list button[data-mech="${mech}"]`);
      if ((await b.count()) === 0) {
        const offered = await page.locator('#choose-list button').evaluateAll((bs) => bs.map((b) => b.dataset.mech));
        throw new Error(`login: ${mech} is not offered (offered: ${offered.join(', ')})`);
      }
      await b.click();
      chose = true;
    } else if (st.password) {
      await page.getByLabel('Password', { exact: true }).fill(cfg.password);
      await page.getByRole('button', { name: 'Continue with password' }).click();
      // One answer per challenge: wait for the page to move on.
      await until(page, 'the password step answered', () => document.getElementById('password-form').hidden);
    }
    if (Date.now() > deadline) throw new Error(`login with ${mech}: not done within ${stepTimeout} ms (url ${page.url()})`);
    await page.waitForTimeout(100);
  }
}

async function currentSession(page) {
  await until(page, 'the session list', () => !!document.querySelector('#sessions-body tr'));
  const rows = await page.locator('#sessions-body tr').evaluateAll((trs) =>
    trs.map((tr) => ({ id: tr.dataset.session, text: tr.textContent })));
  const cur = rows.find((r) => r.text.includes('(this session)'));
  if (!cur) throw new Error(`no current session in the list: ${JSON.stringify(rows)}`);
  return { session: cur.id, row: cur.text, sessions: rows.length };
}

async function logout(page) {
  await page.goto(`${cfg.base}/ui/sessions`);
  await until(page, 'the session list', () => !!document.querySelector('#sessions-body tr'));
  await page.getByRole('button', { name: 'Log out', exact: true }).click();
  await atPath(page, '/ui/login');
}

async function login(page, name, mech, next) {
  await page.goto(`${cfg.base}/ui/login${next ? `?next=${encodeURIComponent(next)}` : ''}`);
  if (name) {
    await page.getByLabel('Account name').fill(name);
    await page.getByRole('button', { name: 'Continue', exact: true }).click();
  } else {
    await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
  }
  await authenticate(page, mech, (o) => location.origin === o && location.pathname === '/ui/sessions', new URL(cfg.base).origin);
  return currentSession(page);
}

// --- the scenario ----------------------------------------------------------------
async function run() {
  const page = await h.launch();
  let reauths = 0; // answered POST /v1/reauth: proves the update page ran the reauth
  const sentToken = []; // requests whose URL, as sent to a server, carries the reset token
  page.on('request', (r) => {
    const u = new URL(r.url());
    u.hash = '';
    if (u.href.includes(cfg.token) || u.href.includes(encodeURIComponent(cfg.token))) sentToken.push(u.href);
  });
  page.on('response', (r) => {
    log('http', r.status(), r.request().method(), r.url());
    if (r.ok() && r.request().method() === 'POST' && new URL(r.url()).pathname === '/v1/reauth') reauths++;
  });

  const cdp = await h.context.newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId: platform } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
  });

  // 0. ?next= never leaves the origin or /ui/ (Chromium's own URL parser),
  // and the empty message regions are rendered (screen readers announce
  // a region only when it exists before its message).
  await page.goto(`${cfg.base}/ui/login`);
  const badNext = ['//evil.example/x', '/\\evil.example/x', '/.//evil.example/x', '/..//evil.example/x', '/%2e//evil.example/x',
    '/./\\evil.example/x', '/ui/..//evil.example/x', 'https://evil.example/ui/x', '/v1/self'];
  const nextAnswers = await page.evaluate((l) => l.map((n) => GH.safeNext(n)), badNext);
  if (nextAnswers.some((a) => a !== '')) throw new Error(`safeNext kept an unsafe next: ${JSON.stringify(badNext.map((n, i) => [n, nextAnswers[i]]))}`);
  const goodNext = await page.evaluate(() => GH.safeNext('/ui/update'));
  if (goodNext !== `${new URL(cfg.base).origin}/ui/update`) throw new Error(`safeNext('/ui/update') gave ${goodNext}`);
  const liveDisplay = await page.evaluate(() => ['status', 'error'].map((id) => getComputedStyle(document.getElementById(id)).display));
  if (liveDisplay.includes('none')) throw new Error(`an empty message region is not rendered: ${liveDisplay}`);

  // 1. The reset link (token in the fragment): a strong password and a passkey, committed.
  await page.goto(`${cfg.base}${cfg.resetPath}`);
  await untilVisible(page, 'editor');
  if (page.url().includes(cfg.token)) throw new Error(`the reset token is still in the address bar: ${page.url()}`);
  if (sentToken.length) throw new Error(`the reset token was sent to a server in a URL: ${sentToken.join(' ')}`);
  const pwField = page.getByLabel('New password');
  await pwField.fill('correct');
  await until(page, 'weak-password feedback', () => /\S/.test(document.getElementById('pw-feedback').textContent)
    && !document.getElementById('pw-feedback').textContent.includes('Strong enough'));
  const weakFeedback = await page.locator('#pw-feedback').textContent();
  await pwField.fill(cfg.password);
  await until(page, 'strong-password feedback', () => document.getElementById('pw-feedback').textContent.includes('Strong enough'));
  await page.getByRole('button', { name: 'Set password' }).click();
  await statusHas(page, 'Password set');
  // An authenticator app: the QR code must render; the code comes from
  // the otpauth URI shown next to it.
  await page.getByLabel('Name of the app or device').fill('phone');
  await page.getByRole('button', { name: 'Add authenticator app' }).click();
  await untilVisible(page, 'totp-enrol');
  await until(page, 'the QR code image', () => { const i = document.getElementById('totp-qr'); return i.complete && i.naturalWidth > 0; });
  const uri = await page.locator('#totp-uri').textContent();
  await page.getByLabel('Code shown by the app').fill(totpCode(uri));
  await page.getByRole('button', { name: 'Verify and keep' }).click();
  await statusHas(page, 'Authenticator app added');
  await page.getByLabel('Name of the new passkey').fill('laptop');
  await page.getByRole('button', { name: 'Enrol a passkey' }).click();
  await statusHas(page, 'Passkey added');
  await page.getByRole('button', { name: 'Save changes' }).click();
  await statusHas(page, 'Your credentials are saved');
  await report('reset-committed', { weakFeedback, totpURI: uri.replace(/secret=[^&]*/, 'secret=…'), addressBar: page.url() });

  // 2. Passkey by name, through a login link whose ?next= would lead to
  // another host once normalised: the page stays on this origin.
  const first = await login(page, cfg.name, 'passkey', '/.//evil.example/x');
  await report('passkey-login', first);

  // 3. Usernameless passkey: a second session, while the first lives on.
  await report('usernameless-login', await login(page, '', 'passkey'));

  // The first session revoked from the list; the focus lands on the
  // status message, not on <body>.
  await until(page, `session ${first.session} listed`, (id) => !!document.querySelector(`#sessions-body tr[data-session="${id}"]`), first.session);
  await page.getByRole('button', { name: `Revoke session ${first.session}`, exact: true }).click();
  await statusHas(page, 'Session revoked');
  await until(page, 'the focus on the status message', () => document.activeElement && document.activeElement.id === 'status');
  await report('revoked', { session: first.session, focus: await page.evaluate(() => document.activeElement.id) });

  // 4. Reauth (with the passkey) on the update page, then a security key.
  await page.goto(`${cfg.base}/ui/update`);
  await authenticate(page, 'passkey', () => { const e = document.getElementById('editor'); return !!e && !e.hidden; });
  // A second authenticator: a USB security key without user verification.
  // The platform authenticator stops answering, as if the user touched
  // only the key (otherwise it would answer the exclude list first).
  const { authenticatorId: usb } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: { protocol: 'ctap2', transport: 'usb', hasResidentKey: false, hasUserVerification: false, automaticPresenceSimulation: true },
  });
  await cdp.send('WebAuthn.setAutomaticPresenceSimulation', { authenticatorId: platform, enabled: false });
  await page.getByLabel('Name of the new security key').fill('yubikey');
  await page.getByRole('button', { name: 'Enrol a security key' }).click();
  await statusHas(page, 'Security key added');
  await page.getByRole('button', { name: 'Save changes' }).click();
  await statusHas(page, 'Your credentials are saved');
  const keys = await cdp.send('WebAuthn.getCredentials', { authenticatorId: usb });
  await report('securitykey-committed', { usbCredentials: keys.credentials.length, reauths });
  await logout(page);
  await report('logout-2');

  // 5. Password + security key.
  await report('passwordsecuritykey-login', await login(page, cfg.name, 'passwordsecuritykey'));
}

try {
  await run();
  console.log(JSON.stringify({ done: true }));
  h.finish();
  await h.cleanup();
  process.exit(0);
} catch (e) {
  log('failed:', e.stack || e);
  if (h.context && cfg.artifacts && !h.dying) {
    for (const [i, p] of h.context.pages().entries()) {
      try {
        await p.screenshot({ path: path.join(cfg.artifacts, `failure-${i}.png`), fullPage: true });
        writeFileSync(path.join(cfg.artifacts, `failure-${i}.html`), await p.content());
      } catch (e2) {
        log('no screenshot:', e2.message);
      }
    }
  }
  await h.die(e.message, 1);
}
