// Drives Debian's Chromium through an OAuth2 authorization (the real login
// page and the real consent page) for integration/oauth2_chromium_test.go.
//
// Configuration: JSON in GATEHOUSE_OAUTH2_CONFIG:
//   {"authURL":"https://localhost:LB/oauth2/authorize?…","redirect":"https://127.0.0.1:RP/callback",
//    "name":"alice","password":"…","chromium":"/usr/bin/chromium","timeoutMs":90000,"artifacts":"/tmp/…"}
// It prints one JSON line on stdout and exits: {"done":true,"url":<the
// redirect to the client>,"loginStatus":…,"consent":<text of the consent
// page>} or {"error":…} (exit 1). Diagnostics go to stderr.
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const cfg = JSON.parse(process.env.GATEHOUSE_OAUTH2_CONFIG || '{}');
for (const k of ['authURL', 'redirect', 'name', 'password']) {
  if (!cfg[k]) {
    console.log(JSON.stringify({ error: `GATEHOUSE_OAUTH2_CONFIG lacks ${k}` }));
    process.exit(1);
  }
}
const stepTimeout = cfg.stepTimeoutMs || 30000;
const log = (...a) => console.error(new Date().toISOString(), ...a);

let context = null;
const userDataDir = mkdtempSync(path.join(tmpdir(), 'gatehouse-oauth2-chromium-'));
async function cleanup() {
  if (context) {
    const c = context;
    context = null;
    await Promise.race([c.close().catch(() => {}), new Promise((r) => setTimeout(r, 5000))]);
  }
  rmSync(userDataDir, { recursive: true, force: true });
}
let dying = null;
function die(msg, code) {
  if (!dying) {
    dying = (async () => {
      console.log(JSON.stringify({ error: msg }));
      await cleanup();
      process.exit(code);
    })();
  }
  return dying;
}
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => die(`stopped by ${sig}`, 3));
const overall = setTimeout(() => die(`overall timeout of ${cfg.timeoutMs || 90000} ms`, 2), cfg.timeoutMs || 90000);

// until polls cond in the page, failing at once on a message in #error.
async function until(page, what, cond, arg) {
  const deadline = Date.now() + stepTimeout;
  for (;;) {
    if (await page.evaluate(cond, arg).catch(() => false)) return;
    const err = await page.evaluate(() => {
      const e = document.getElementById('error');
      return e ? e.textContent.trim() : '';
    }).catch(() => '');
    if (err) throw new Error(`${what}: the page says: ${err}`);
    if (Date.now() > deadline) throw new Error(`${what}: not reached within ${stepTimeout} ms (url ${page.url()})`);
    await page.waitForTimeout(100);
  }
}

async function run() {
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: cfg.chromium || '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync', '--ignore-certificate-errors'],
    ignoreHTTPSErrors: true,
    handleSIGTERM: false,
    handleSIGINT: false,
    handleSIGHUP: false,
    timeout: 30000,
  });
  context.setDefaultTimeout(stepTimeout);
  const page = context.pages()[0] || (await context.newPage());
  page.on('console', (m) => log('console', m.type(), m.text()));
  page.on('pageerror', (e) => log('pageerror', e.message));
  let loginStatus = 0;
  page.on('response', (r) => {
    log('http', r.status(), r.request().method(), r.url());
    if (r.request().isNavigationRequest() && !loginStatus && new URL(r.url()).pathname.startsWith('/ui/oauth2/')) loginStatus = r.status();
  });
  const atClient = () => page.url().startsWith(cfg.redirect);

  await page.goto(cfg.authURL);
  // 1. The login page (served in place as a 401 when Kerberos is set up
  // and the browser has no ticket, or at /ui/login?next=…).
  await until(page, 'the login page', () => { const f = document.getElementById('name-form'); return !!f && !f.hidden; });
  await page.getByLabel('Account name').fill(cfg.name);
  await page.getByRole('button', { name: 'Continue', exact: true }).click();
  await until(page, 'a password step', () => {
    const v = (id) => { const e = document.getElementById(id); return !!e && !e.hidden; };
    return v('password-form') || v('choose');
  });
  if (await page.locator('#choose').isVisible()) await page.locator('#choose-list button[data-mech="password"]').click();
  await until(page, 'the password form', () => !document.getElementById('password-form').hidden);
  await page.getByLabel('Password', { exact: true }).fill(cfg.password);
  await page.getByRole('button', { name: 'Continue with password' }).click();

  // 2. The consent page: it names the scopes; approve.
  const deadline = Date.now() + stepTimeout;
  while (!atClient() && !(await page.locator('form[action*="consent"], #consent, [data-consent]').count().catch(() => 0))) {
    if (Date.now() > deadline) throw new Error(`no consent page within ${stepTimeout} ms (url ${page.url()})`);
    await page.waitForTimeout(100);
  }
  let consent = '';
  if (!atClient()) {
    consent = (await page.locator('main').innerText().catch(() => '')) || (await page.content());
    const approve = page.getByRole('button', { name: /allow|approve|accept|grant|consent|continue|yes/i }).first();
    await approve.click();
  }
  // 3. The redirect to the client.
  await page.waitForURL((u) => u.href.startsWith(cfg.redirect), { timeout: stepTimeout });
  return { url: page.url(), loginStatus, consent };
}

run().then(async (r) => {
  clearTimeout(overall);
  console.log(JSON.stringify({ done: true, ...r }));
  await cleanup();
  process.exit(0);
}).catch(async (e) => {
  log('failure', e.stack || e.message);
  if (context && cfg.artifacts) {
    const p = context.pages()[0];
    if (p) {
      await p.screenshot({ path: path.join(cfg.artifacts, 'oauth2-failure.png') }).catch(() => {});
      log('page at failure', p.url(), (await p.content().catch(() => '')).slice(0, 3000));
    }
  }
  die(e.message, 1);
});
