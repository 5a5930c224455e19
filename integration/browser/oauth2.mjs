// Drives Debian's Chromium through an OAuth2 authorization (the real login
// page and the real consent page) for integration/oauth2_chromium_test.go.
//
// Configuration: JSON in GATEHOUSE_OAUTH2_CONFIG:
//   {"authURL":"https://localhost:LB/oauth2/authorize?…","redirect":"https://127.0.0.1:RP/callback",
//    "name":"alice","password":"…","chromium":"/usr/bin/chromium","timeoutMs":90000,"artifacts":"/tmp/…"}
// It prints one JSON line on stdout and exits: {"done":true,"url":<the
// redirect to the client>,"loginStatus":…,"consent":<text of the consent
// page>} or {"error":…} (exit 1). Diagnostics go to stderr.
import path from 'node:path';
import { start } from './harness.mjs';

const h = start({
  env: 'GATEHOUSE_OAUTH2_CONFIG', required: ['authURL', 'redirect', 'name', 'password'],
  timeoutMs: 90000, stepTimeoutMs: 30000, profile: 'gatehouse-oauth2-chromium-',
});
const { cfg, stepTimeout, log, until } = h;

async function run() {
  const page = await h.launch();
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
  h.finish();
  console.log(JSON.stringify({ done: true, ...r }));
  await h.cleanup();
  process.exit(0);
}).catch(async (e) => {
  log('failure', e.stack || e.message);
  if (h.context && cfg.artifacts) {
    const p = h.context.pages()[0];
    if (p) {
      await p.screenshot({ path: path.join(cfg.artifacts, 'oauth2-failure.png') }).catch(() => {});
      log('page at failure', p.url(), (await p.content().catch(() => '')).slice(0, 3000));
    }
  }
  h.die(e.message, 1);
});
