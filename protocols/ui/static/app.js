// Shared helpers of the Gatehouse pages: JSON API calls, base64url and
// WebAuthn conversions, and the stepped login (also used for reauth).
// No framework, no build step: plain browser JavaScript.
'use strict';

const GH = (() => {
  const $ = (id) => document.getElementById(id);

  function say(msg) { $('status').textContent = msg || ''; }
  function fail(msg) { $('error').textContent = msg || ''; }

  // APIError carries the API's error body ({"error","code",...}).
  class APIError extends Error {
    constructor(status, body) {
      super((body && body.error) || `the server answered ${status}`);
      this.status = status;
      this.code = body && body.code;
      this.body = body || {};
    }
  }

  // api calls the JSON API with the session cookie (same origin only: the
  // server refuses cross-origin writes).
  async function api(method, path, body, headers) {
    const opts = { method, credentials: 'same-origin', headers: Object.assign({ Accept: 'application/json' }, headers || {}) };
    if (body !== undefined) {
      opts.headers['Content-Type'] = 'application/json';
      opts.body = JSON.stringify(body);
    }
    let resp;
    try {
      resp = await fetch(path, opts);
    } catch (e) {
      throw new APIError(0, { error: `the server could not be reached (${e.message})`, code: 'network' });
    }
    const text = await resp.text();
    let data = null;
    if (text) {
      try { data = JSON.parse(text); } catch (e) { data = { error: text.trim() }; }
    }
    if (!resp.ok) throw new APIError(resp.status, data);
    return { data: data || {}, headers: resp.headers, status: resp.status };
  }

  // --- base64url <-> ArrayBuffer -------------------------------------------
  function b64uToBuf(s) {
    s = String(s).replace(/-/g, '+').replace(/_/g, '/').replace(/=+$/, '');
    while (s.length % 4) s += '=';
    const bin = atob(s);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out.buffer;
  }
  function bufToB64u(buf) {
    const b = new Uint8Array(buf);
    let s = '';
    for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i]);
    return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  // --- WebAuthn --------------------------------------------------------------
  // The server sends go-webauthn's options JSON ({"publicKey":{...}}) with
  // binary fields as base64url; the browser wants ArrayBuffers.
  const credList = (l) => (l || []).map((c) => Object.assign({}, c, { id: b64uToBuf(c.id) }));

  function creationOptions(opts) {
    const pk = Object.assign({}, opts.publicKey || opts);
    pk.challenge = b64uToBuf(pk.challenge);
    pk.user = Object.assign({}, pk.user, { id: b64uToBuf(pk.user.id) });
    if (pk.excludeCredentials) pk.excludeCredentials = credList(pk.excludeCredentials);
    return { publicKey: pk };
  }
  function requestOptions(opts) {
    const pk = Object.assign({}, opts.publicKey || opts);
    pk.challenge = b64uToBuf(pk.challenge);
    if (pk.allowCredentials) pk.allowCredentials = credList(pk.allowCredentials);
    return { publicKey: pk };
  }

  // credentialJSON is the PublicKeyCredential as the server parses it.
  function credentialJSON(cred) {
    const r = cred.response;
    const out = {
      id: cred.id,
      rawId: bufToB64u(cred.rawId),
      type: cred.type,
      clientExtensionResults: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {},
      response: { clientDataJSON: bufToB64u(r.clientDataJSON) },
    };
    if (cred.authenticatorAttachment) out.authenticatorAttachment = cred.authenticatorAttachment;
    if (r.attestationObject) {
      out.response.attestationObject = bufToB64u(r.attestationObject);
      if (r.getTransports) out.response.transports = r.getTransports();
    } else {
      out.response.authenticatorData = bufToB64u(r.authenticatorData);
      out.response.signature = bufToB64u(r.signature);
      if (r.userHandle) out.response.userHandle = bufToB64u(r.userHandle);
    }
    return out;
  }

  function webauthnError(e) {
    if (e && e.name === 'NotAllowedError') return 'The browser prompt was cancelled or timed out.';
    if (e && e.name === 'InvalidStateError') return 'This authenticator is already registered.';
    return `The authenticator failed: ${e && e.message ? e.message : e}`;
  }

  async function create(options) {
    if (!window.PublicKeyCredential) throw new Error('This browser does not support passkeys or security keys.');
    return credentialJSON(await navigator.credentials.create(creationOptions(options)));
  }
  async function get(options) {
    if (!window.PublicKeyCredential) throw new Error('This browser does not support passkeys or security keys.');
    return credentialJSON(await navigator.credentials.get(requestOptions(options)));
  }

  // --- The stepped login -----------------------------------------------------
  const mechLabels = {
    password: 'Password',
    generatedpassword: 'Generated password',
    passwordmfa: 'Password and authenticator code',
    passwordsecuritykey: 'Password and security key',
    passkey: 'Passkey',
    attested_passkey: 'Attested passkey',
  };

  // Stepper drives /v1/auth from a first answer (of an init step or of
  // /v1/reauth) until success or denial. Elements come from the "steps"
  // template. onSuccess runs once the server has set the session cookie.
  function Stepper(onSuccess, onRestart) {
    let sid = '';
    let pendingWebauthn = null;
    const parts = ['choose', 'password-form', 'totp-form', 'webauthn-step'];
    const hideParts = () => parts.forEach((p) => { $(p).hidden = true; });

    async function send(step) {
      try {
        const resp = await api('POST', '/v1/auth', { step, issue: 'cookie' }, { 'X-Gatehouse-Auth-Session': sid });
        handle(resp);
      } catch (e) {
        hideParts();
        fail(e.message);
        $('steps-restart').focus();
      }
    }

    function handle(resp) {
      sid = resp.headers.get('X-Gatehouse-Auth-Session') || resp.data.sessionid || sid;
      const st = resp.data.state || {};
      hideParts();
      $('steps').hidden = false;
      if (st.success !== undefined) {
        fail('');
        say('Signed in.');
        onSuccess();
      } else if (st.denied !== undefined) {
        fail(`Sign-in refused: ${st.denied}`);
        $('steps-restart').focus();
      } else if (st.choose) {
        const list = $('choose-list');
        list.replaceChildren();
        for (const m of st.choose) {
          const b = document.createElement('button');
          b.type = 'button';
          b.textContent = mechLabels[m] || m;
          b.dataset.mech = m;
          b.addEventListener('click', () => { fail(''); send({ begin: m }); });
          list.append(b);
        }
        $('choose').hidden = false;
        list.firstChild && list.firstChild.focus();
      } else if (st.continue && st.continue.length) {
        const c = st.continue[0];
        if (c === 'password') {
          $('password-form').hidden = false;
          $('password').value = '';
          $('password').focus();
        } else if (c === 'totp') {
          $('totp-form').hidden = false;
          $('totp').value = '';
          $('totp').focus();
        } else if (c && typeof c === 'object') {
          const kind = 'passkey' in c ? 'passkey' : 'securitykey';
          pendingWebauthn = { kind, options: c[kind] };
          $('webauthn-prompt').textContent = kind === 'passkey'
            ? 'Use your passkey when the browser asks.' : 'Touch your security key when the browser asks.';
          $('webauthn-step').hidden = false;
          runWebauthn();
        } else {
          fail(`The server asked for something this page does not know: ${JSON.stringify(c)}`);
        }
      } else {
        fail('The server sent an answer this page does not understand.');
      }
    }

    async function runWebauthn() {
      const { kind, options } = pendingWebauthn;
      say(kind === 'passkey' ? 'Waiting for your passkey…' : 'Waiting for your security key…');
      let cred;
      try {
        cred = await get(options);
      } catch (e) {
        fail(webauthnError(e));
        $('webauthn-retry').focus();
        return;
      }
      say('');
      send({ cred: { [kind]: cred } });
    }

    $('password-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      const pw = $('password').value;
      $('password').value = '';
      fail('');
      send({ cred: { password: pw } });
    });
    $('totp-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      const code = $('totp').value.trim();
      fail('');
      send({ cred: { totp: parseInt(code, 10) } });
    });
    $('webauthn-retry').addEventListener('click', () => { fail(''); pendingWebauthn && runWebauthn(); });
    $('steps-restart').addEventListener('click', () => {
      sid = '';
      hideParts();
      $('steps').hidden = true;
      fail('');
      say('');
      onRestart();
    });

    return {
      // start runs the first request (a function returning an api() promise).
      async start(first) {
        sid = '';
        fail('');
        try {
          handle(await first());
        } catch (e) {
          fail(e.message);
        }
      },
    };
  }

  // reauthFlow is for a write refused with reauth_required: it runs the
  // reauth steps on this page (POST /v1/reauth, then /v1/auth), then runs
  // fn again and hands its result to onDone. A session made by Kerberos or
  // an upstream provider gets reauth_external instead (reauthExternal).
  let reauthStepper = null;
  let reauthNext = null;
  async function reauthFlow(fn, onDone) {
    reauthNext = async () => {
      $('steps').hidden = true;
      say('Confirmed. You may make changes for a few minutes.');
      try {
        onDone(await fn());
      } catch (e) {
        fail(e.message);
      }
    };
    say('This change needs a fresh sign-in.');
    let first;
    try {
      first = await api('POST', '/v1/reauth', { issue: 'cookie' });
    } catch (e) {
      if (e.code === 'reauth_external') return reauthExternal(e.body.reauth_url);
      fail(e.message);
      return;
    }
    if (!reauthStepper) reauthStepper = Stepper(() => reauthNext(), () => {});
    $('steps-heading').textContent = 'Confirm it is you';
    reauthStepper.start(async () => first);
  }

  // reauthExternal confirms the sign-in where it was made: Kerberos here
  // (the browser answers the Negotiate challenge of the fetch, the server
  // refreshes the session cookie) and then the change is retried; an
  // upstream provider on the server's page, which comes back to this one.
  async function reauthExternal(url) {
    let u;
    try {
      u = new URL(url, location.origin);
    } catch (e) {
      u = null;
    }
    if (!u || u.origin !== location.origin) {
      fail('The server did not say how to confirm this sign-in: sign out and sign in again.');
      return;
    }
    if (u.pathname === '/v1/auth/spnego') {
      say('Confirming with Kerberos…');
      try {
        await api('GET', u.pathname + u.search);
      } catch (e) {
        fail(`Kerberos confirmation failed: ${e.message}`);
        return;
      }
      await reauthNext();
      return;
    }
    u.searchParams.set('next', location.pathname + location.search);
    location.assign(u.href);
  }

  // safeNext turns ?next= into an absolute URL on this origin under /ui/,
  // or '' to refuse it. The raw value is not enough to judge: "/.//evil",
  // "/..//evil" or "/%2e//evil" normalise to the path "//evil", which
  // location.assign would read as another host. So the value is parsed,
  // the parsed origin and path are checked, and the caller navigates to the
  // parsed absolute href, never to a path it rebuilt.
  function safeNext(n) {
    if (typeof n !== 'string' || n[0] !== '/' || n[1] === '/' || n[1] === '\\' || /[\u0000-\u001f\u007f\\]/.test(n)) return '';
    let u;
    try {
      u = new URL(n, location.origin);
    } catch (e) {
      return '';
    }
    if (u.origin !== location.origin || !u.pathname.startsWith('/ui/')) return '';
    if (u.pathname.startsWith('//') || u.pathname.startsWith('/\\')) return '';
    return u.href;
  }

  function loginURL() {
    return `/ui/login?next=${encodeURIComponent(location.pathname + location.search)}`;
  }

  function when(v) {
    if (v === undefined || v === null || v === '') return '';
    let d;
    if (typeof v === 'number') d = new Date(v > 1e12 ? v : v * 1000);
    else d = new Date(v);
    return isNaN(d) ? String(v) : d.toLocaleString();
  }

  return { $, say, fail, api, APIError, create, get, webauthnError, Stepper, reauthFlow, safeNext, loginURL, when, b64uToBuf, bufToB64u };
})();
