// The login page: name → offered mechanisms → one step at a time, a
// usernameless passkey, or Kerberos. The server sets the session cookie on
// success.
'use strict';

(() => {
  const { $, say, fail, api, Stepper, safeNext } = GH;
  // ?next= names where to go after signing in; a login page served in
  // place of another page (a 401 after a Negotiate challenge) names it in
  // data-next instead.
  const next = safeNext(new URLSearchParams(location.search).get('next') || document.body.dataset.next) || '/ui/sessions';

  const showName = () => {
    $('name-step').hidden = false;
    $('name').focus();
  };
  const stepper = Stepper(() => location.assign(next), showName);

  const begin = (name) => {
    $('name-step').hidden = true;
    $('steps-heading').textContent = name ? `Sign in as ${name}` : 'Sign in with a passkey';
    stepper.start(() => api('POST', '/v1/auth', { step: { init: name }, issue: 'cookie' }));
  };

  $('name-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const name = $('name').value.trim();
    if (name) begin(name);
  });
  $('passkey-login').addEventListener('click', () => begin(''));

  // kerberosFailure says why a Kerberos sign-in did not happen. A 401
  // coded "negotiate" is the bare challenge: the browser had no ticket (or
  // does not trust this host for Negotiate) and did not answer it.
  const kerberosFailure = (e) => {
    if (e.status === 401 && (!e.code || e.code === 'negotiate')) return 'No Kerberos ticket: sign in with your password instead.';
    if (e.status === 404) return 'Kerberos sign-in is not set up on this server: sign in with your password instead.';
    return `Kerberos sign-in refused: ${e.message}`;
  };

  // The browser answers the server's Negotiate challenge by itself when
  // it holds a ticket; fetch sees only the final answer, and the session
  // arrives as the cookie.
  $('kerberos-login').addEventListener('click', async () => {
    const btn = $('kerberos-login');
    btn.disabled = true;
    fail('');
    say('Signing in with Kerberos…');
    try {
      await api('GET', '/v1/auth/spnego?issue=cookie');
      say('Signed in.');
      location.assign(next);
    } catch (e) {
      say('');
      fail(kerberosFailure(e));
      btn.disabled = false;
      $('name').focus();
    }
  });
})();

// Upstream providers (GET /v1/sso/login-options). OIDC, OAuth2 and SAML
// are plain links: the browser goes to the provider and comes back to the
// callback with the session cookie set. LDAP asks for the directory name
// and password here, then the account's own authenticator code.
(() => {
  const { $, say, fail, api, safeNext } = GH;
  const nextRaw = new URLSearchParams(location.search).get('next') || document.body.dataset.next || '';
  // The server checks next again; only a path under /ui/ is passed on.
  const nextAbs = safeNext(nextRaw);
  const nextPath = nextAbs ? (() => { const u = new URL(nextAbs); return u.pathname + u.search; })() : '';
  const after = nextAbs || '/ui/sessions';
  let ldap = null; // { uuid, name, handle }

  const showLDAP = (p) => {
    ldap = { uuid: p.uuid, name: p.name, handle: '' };
    $('name-step').hidden = true;
    $('ldap-step').hidden = false;
    $('ldap-heading').textContent = `Sign in with ${p.name}`;
    $('ldap-form').hidden = false;
    $('ldap-totp-form').hidden = true;
    fail('');
    $('ldap-username').focus();
  };

  $('ldap-cancel').addEventListener('click', () => {
    ldap = null;
    $('ldap-step').hidden = true;
    $('name-step').hidden = false;
    fail('');
    say('');
    $('name').focus();
  });

  $('ldap-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const username = $('ldap-username').value.trim();
    const password = $('ldap-password').value;
    $('ldap-password').value = '';
    fail('');
    say('Checking with the directory…');
    try {
      const r = await api('POST', `/v1/sso/ldap/${encodeURIComponent(ldap.uuid)}`, { username, password, issue: 'cookie' });
      ldap.handle = r.data.handle;
      say('Now the code of your authenticator app.');
      $('ldap-form').hidden = true;
      $('ldap-totp-form').hidden = false;
      $('ldap-totp').value = '';
      $('ldap-totp').focus();
    } catch (e) {
      say('');
      fail(`Sign-in refused: ${e.message}`);
      $('ldap-username').focus();
    }
  });

  $('ldap-totp-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const code = $('ldap-totp').value.trim();
    fail('');
    try {
      await api('POST', `/v1/sso/ldap/${encodeURIComponent(ldap.uuid)}/mfa`, { handle: ldap.handle, totp: code });
      say('Signed in.');
      location.assign(after);
    } catch (e) {
      say('');
      fail(`Sign-in refused: ${e.message}`);
      $('ldap-totp').focus();
    }
  });

  const load = async () => {
    let opts;
    try {
      opts = (await api('GET', '/v1/sso/login-options')).data;
    } catch (e) {
      return; // no SSO on this server (or not reachable): the page works without it
    }
    const list = $('sso-list');
    list.replaceChildren();
    for (const p of opts.providers || []) {
      if (p.type === 'ldap') {
        const b = document.createElement('button');
        b.type = 'button';
        b.textContent = `Sign in with ${p.name}`;
        b.dataset.provider = p.uuid;
        b.addEventListener('click', () => showLDAP(p));
        list.append(b);
      } else {
        const a = document.createElement('a');
        a.className = 'button';
        a.textContent = `Sign in with ${p.name}`;
        a.dataset.provider = p.uuid;
        a.href = `/ui/sso/login/${encodeURIComponent(p.uuid)}` + (nextPath ? `?next=${encodeURIComponent(nextPath)}` : '');
        list.append(a);
      }
    }
    $('sso').hidden = list.childElementCount === 0;
  };
  // Buttons need a DOM to be built in (the unit tests' fake document has none).
  if (typeof document.createElement === 'function') load();
})();
