// What both Chromium drivers (driver.mjs, oauth2.mjs) need around their
// scenario: the JSON configuration from the environment, a log on stderr,
// a throwaway profile folder, Chromium launched headless with the flags the
// test machines need, a step poller that fails at once on the page's error
// region, and one bounded way to end (signals, an overall timeout, a
// failure) that closes the browser and removes the profile.
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

// start reads the configuration from process.env[env] (exiting with an
// {"error":…} line when a required key is missing) and arms the signal
// handlers and the overall timeout (cfg.timeoutMs, else timeoutMs).
export function start({ env, required, timeoutMs, stepTimeoutMs, profile }) {
  const cfg = JSON.parse(process.env[env] || '{}');
  for (const k of required) {
    if (!cfg[k]) {
      console.log(JSON.stringify({ error: `${env} lacks ${k}` }));
      process.exit(1);
    }
  }
  const stepTimeout = cfg.stepTimeoutMs || stepTimeoutMs;
  const log = (...a) => console.error(new Date().toISOString(), ...a);

  let context = null;
  const userDataDir = mkdtempSync(path.join(tmpdir(), profile));

  // cleanup closes the browser (bounded: a hung Chromium must not keep the
  // driver alive) and removes the profile folder.
  async function cleanup() {
    if (context) {
      const c = context;
      context = null;
      await Promise.race([c.close().catch(() => {}), new Promise((r) => setTimeout(r, 5000))]);
    }
    rmSync(userDataDir, { recursive: true, force: true });
  }
  // die reports and ends the driver once; a second cause (the scenario
  // failing because a signal closed the browser) waits for the first.
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
  const overall = setTimeout(() => die(`overall timeout of ${cfg.timeoutMs || timeoutMs} ms`, 2), cfg.timeoutMs || timeoutMs);

  // until polls cond in the page while watching the page's error region, so a
  // refusal from the server fails the step at once with its message.
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

  // launch starts Chromium on the profile and returns its first page, with
  // the page's console and errors logged.
  async function launch() {
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
    return page;
  }

  return {
    cfg, stepTimeout, log, until, launch, cleanup, die,
    // finish stops the overall timeout once the scenario is over.
    finish: () => clearTimeout(overall),
    get context() { return context; },
    get dying() { return dying; },
  };
}
