// The credential-update page: opened by the signed-in account (after a
// reauth when the session is read-only) or with a reset token. Every change
// stays in the server's update session until "Save changes" commits it.
'use strict';

(() => {
  const { $, api, say, fail, create, webauthnError, reauthFlow, loginURL } = GH;
  const mode = document.body.dataset.mode; // "update" or "reset"
  let id = '';
  const base = () => `/v1/credential/update/${encodeURIComponent(id)}`;

  // --- opening -----------------------------------------------------------------
  async function open() {
    if (mode === 'reset') {
      // The token is in the fragment (/ui/reset#token=…): browsers never
      // send a fragment to the server or a proxy. It is then removed from
      // the address bar and the history at once.
      const token = new URLSearchParams(location.hash.slice(1)).get('token');
      history.replaceState(null, '', '/ui/reset');
      if (!token) {
        fail('This address has no reset token. Use the whole link you were given.');
        return;
      }
      try {
        opened((await api('POST', '/v1/credential/update/reset', { token })).data);
      } catch (e) {
        fail(`The reset link cannot be used: ${e.message}`);
      }
      return;
    }
    const start = () => api('POST', '/v1/credential/update', {});
    try {
      opened((await start()).data);
    } catch (e) {
      if (e.status === 401) { location.assign(loginURL()); return; }
      if (e.code === 'reauth_required') { reauthFlow(start, (r) => opened(r.data)); return; }
      fail(e.message);
    }
  }

  function opened(d) {
    id = d.id;
    $('editor').hidden = false;
    say('');
    render(d.status);
  }

  // --- showing the state -----------------------------------------------------
  function item(list, text, removeLabel, onRemove) {
    const li = document.createElement('li');
    const span = document.createElement('span');
    span.textContent = text;
    li.append(span, ' ');
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'secondary';
    b.textContent = 'Remove';
    b.setAttribute('aria-label', removeLabel);
    b.addEventListener('click', onRemove);
    li.append(b);
    list.append(li);
  }

  function render(st) {
    if (!st) return;
    $('account').textContent = `Credentials of ${st.spn || st.name}.`;
    $('pw-state').textContent = st.password ? 'A password is set.' : 'No password is set.';
    const totp = $('totp-list');
    totp.replaceChildren();
    for (const t of st.totp || []) {
      item(totp, `${t.label} (${t.algorithm})`, `Remove authenticator app ${t.label}`, () => change('DELETE', `/totp/${encodeURIComponent(t.id)}`));
    }
    const pk = $('passkey-list');
    pk.replaceChildren();
    for (const p of st.passkeys || []) {
      item(pk, p.label + (p.attested ? ' (attested)' : ''), `Remove passkey ${p.label}`, () => change('DELETE', `/webauthn/${encodeURIComponent(p.id)}`));
    }
    const sk = $('securitykey-list');
    sk.replaceChildren();
    for (const k of st.security_keys || []) {
      item(sk, k.label, `Remove security key ${k.label}`, () => change('DELETE', `/webauthn/${encodeURIComponent(k.id)}`));
    }
    const pol = st.policy || {};
    const parts = [];
    if (pol.credential_type_minimum) parts.push(`your account policy needs at least credentials of type "${pol.credential_type_minimum}"`);
    if (pol.password_minimum_length) parts.push(`passwords of at least ${pol.password_minimum_length} characters`);
    $('policy').textContent = parts.length ? `Note: ${parts.join(', and ')}.` : '';
    const mechs = (st.mechanisms || []).join(', ');
    $('warnings').textContent = (st.warnings || []).join(' ') + (mechs ? ` You will be able to sign in with: ${mechs}.` : '');
    $('commit').disabled = st.can_commit === false;
  }

  // write sends one change (or the commit) to the update session. Each
  // needs a read-write session now, not only at opening: when the
  // privilege window closed while the page was open, the answer is
  // reauth_required, and the page runs the reauthentication on the spot
  // and sends the change again. (A reset session never asks.)
  function write(method, path, body) {
    const send = () => api(method, path, body);
    return send().catch((e) => {
      if (mode !== 'update' || e.code !== 'reauth_required') throw e;
      return new Promise((resolve) => reauthFlow(send, resolve));
    });
  }

  // change sends one change to the update session and shows the new state.
  async function change(method, suffix, body) {
    fail('');
    try {
      const r = await write(method, base() + suffix, body);
      render(r.data);
      return r.data;
    } catch (e) {
      fail(e.message);
      throw e;
    }
  }

  // --- password ----------------------------------------------------------------
  let checkTimer = null;
  let checkSeq = 0;
  function feedbackText(f) {
    if (!f) return '';
    return [f.warning, ...(f.suggestions || [])].filter(Boolean).join(' ');
  }
  // withFeedback adds zxcvbn's advice to a reason unless the reason
  // already spells it out.
  function withFeedback(reason, f) {
    const fb = feedbackText(f);
    reason = reason || '';
    return fb && !reason.includes(fb) ? `${reason} ${fb}`.trim() : reason;
  }
  $('new-password').addEventListener('input', () => {
    clearTimeout(checkTimer);
    const pw = $('new-password').value;
    if (!pw) { $('pw-feedback').textContent = ''; return; }
    // Debounced: zxcvbn runs on the server, once the typing pauses.
    checkTimer = setTimeout(async () => {
      const seq = ++checkSeq;
      try {
        const r = await api('POST', `${base()}/password/check`, { password: pw });
        if (seq !== checkSeq) return; // a later check is on its way
        const d = r.data;
        $('pw-feedback').textContent = d.ok ? 'Strong enough.' : withFeedback(d.error, d.feedback);
      } catch (e) {
        if (seq === checkSeq) $('pw-feedback').textContent = e.message;
      }
    }, 300);
  });
  $('pw-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearTimeout(checkTimer);
    checkSeq++;
    const pw = $('new-password').value;
    fail('');
    try {
      render((await write('POST', `${base()}/password`, { password: pw })).data);
    } catch (e) {
      fail(withFeedback(e.message, e.body.feedback));
      $('pw-feedback').textContent = '';
      return;
    }
    $('new-password').value = '';
    $('pw-feedback').textContent = '';
    say('Password set. Save your changes to keep it.');
  });

  // --- TOTP ------------------------------------------------------------------------
  $('totp-gen-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    fail('');
    let d;
    try {
      d = (await write('POST', `${base()}/totp/generate`, { label: $('totp-label').value.trim(), algorithm: $('totp-algo').value })).data;
    } catch (e) {
      fail(e.message);
      return;
    }
    $('totp-qr').src = `data:image/png;base64,${d.qr_png}`;
    $('totp-uri').textContent = d.uri;
    $('totp-enrol').hidden = false;
    $('totp-code').value = '';
    $('totp-code').focus();
    say('Scan the code with your app, then enter the code it shows.');
  });
  $('totp-verify-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      await change('POST', '/totp/verify', { code: $('totp-code').value.trim(), accept_sha1: $('totp-sha1').checked });
    } catch (e) {
      return;
    }
    $('totp-enrol').hidden = true;
    say('Authenticator app added. Save your changes to keep it.');
  });

  // --- passkeys and security keys --------------------------------------------
  async function enrol(kind, label) {
    fail('');
    say(kind === 'passkey' ? 'Create the passkey when the browser asks…' : 'Touch your security key when the browser asks…');
    let opts;
    try {
      opts = (await write('POST', `${base()}/webauthn/begin`, { kind, label })).data.options;
    } catch (e) {
      say('');
      fail(e.message);
      return;
    }
    let credential;
    try {
      credential = await create(opts);
    } catch (e) {
      say('');
      fail(webauthnError(e));
      return;
    }
    try {
      await change('POST', '/webauthn/finish', { credential });
    } catch (e) {
      say('');
      return;
    }
    say(kind === 'passkey' ? 'Passkey added. Save your changes to keep it.' : 'Security key added. Save your changes to keep it.');
  }
  $('passkey-form').addEventListener('submit', (ev) => { ev.preventDefault(); enrol('passkey', $('passkey-label').value.trim()); });
  $('securitykey-form').addEventListener('submit', (ev) => { ev.preventDefault(); enrol('securitykey', $('securitykey-label').value.trim()); });

  // --- commit / discard ----------------------------------------------------------
  function finished(msg) {
    $('editor').hidden = true;
    id = '';
    say(msg);
    const done = $('done');
    const link = done.querySelector('a');
    if (mode === 'reset') {
      link.href = '/ui/login';
      link.textContent = 'Sign in with your new credentials';
    } else {
      link.href = '/ui/sessions';
      link.textContent = 'Back to your sessions';
    }
    done.hidden = false;
    link.focus();
  }
  $('commit').addEventListener('click', async () => {
    fail('');
    try {
      await write('POST', `${base()}/commit`);
    } catch (e) {
      fail(`Not saved: ${e.message}`);
      return;
    }
    finished('Your credentials are saved.');
  });
  $('cancel').addEventListener('click', async () => {
    fail('');
    try {
      await api('DELETE', base());
    } catch (e) {
      fail(e.message);
      return;
    }
    finished('Your changes were discarded.');
  });

  open();
})();
