// The SSO admin page: upstream identity providers (list, create, edit,
// test, delete) and the global SSO settings, over /v1/sso/*.
'use strict';

(() => {
  const { $, api, say, fail, loginURL, reauthFlow } = GH;
  let providers = [];

  // write runs a change, going through a fresh sign-in when the session is
  // read-only, then onDone with the answer.
  async function write(fn, onDone) {
    fail('');
    try {
      onDone(await fn());
    } catch (e) {
      if (e.code === 'reauth_required') { reauthFlow(fn, onDone); return; }
      fail(e.message);
    }
  }

  async function load() {
    let list;
    try {
      list = await api('GET', '/v1/sso/providers');
    } catch (e) {
      if (e.status === 401) { location.assign(loginURL()); return; }
      fail(e.message);
      return;
    }
    providers = list.data.providers || [];
    $('admin').hidden = false;
    render();
    try {
      const st = (await api('GET', '/v1/sso/settings')).data;
      $('s-local-auth').checked = st.local_auth;
      $('s-auto-create').checked = st.auto_create;
      $('s-auto-enable').checked = st.auto_enable;
    } catch (e) {
      fail(e.message);
    }
  }

  function cell(tr, text) {
    const td = document.createElement('td');
    td.textContent = text;
    tr.append(td);
    return td;
  }

  function button(label, aria, onClick) {
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = label;
    b.setAttribute('aria-label', aria);
    b.addEventListener('click', onClick);
    return b;
  }

  function render() {
    const body = $('providers-body');
    body.replaceChildren();
    for (const p of providers) {
      const tr = document.createElement('tr');
      tr.dataset.provider = p.uuid;
      cell(tr, p.name);
      cell(tr, p.type);
      cell(tr, p.enabled ? 'yes' : 'no');
      cell(tr, p.acs_url || p.callback_url || '');
      const td = cell(tr, '');
      td.append(
        button('Test connection', `Test the connection to ${p.name}`, () => test(p)),
        button('Edit', `Edit ${p.name}`, () => edit(p)),
        button('Delete', `Delete ${p.name}`, () => remove(p)),
      );
      body.append(tr);
    }
    if (!providers.length) say('No identity providers yet.');
  }

  async function test(p) {
    say(`Testing ${p.name}…`);
    let r;
    try {
      r = (await api('POST', `/v1/sso/providers/${encodeURIComponent(p.uuid)}/test`)).data;
    } catch (e) {
      fail(e.message);
      return;
    }
    const ul = $('test-checks');
    ul.replaceChildren();
    for (const c of r.checks || []) {
      const li = document.createElement('li');
      li.className = c.ok ? 'ok' : 'error';
      li.textContent = `${c.ok ? 'OK' : 'Failed'}: ${c.name}: ${c.detail}`;
      ul.append(li);
    }
    $('test-heading').textContent = `Connection test of ${r.provider}: ${r.ok ? 'every check passed' : 'failed'}`;
    $('test-result').hidden = false;
    say(r.ok ? `${r.provider}: every check passed.` : `${r.provider}: the connection test failed.`);
  }

  function remove(p) {
    if (!window.confirm(`Delete ${p.name}? Accounts linked to it lose that link.`)) return;
    write(() => api('DELETE', `/v1/sso/providers/${encodeURIComponent(p.uuid)}?unlink=true`), async () => {
      say(`${p.name} deleted.`);
      await load();
    });
  }

  // Form fields: [element id, API key, kind].
  const fields = [
    ['p-name', 'name', 'text'], ['p-username-attribute', 'username_attribute', 'text'],
    ['p-client-id', 'client_id', 'text'], ['p-discovery-url', 'discovery_url', 'text'],
    ['p-auth-url', 'auth_url', 'text'], ['p-token-url', 'token_url', 'text'], ['p-userinfo-url', 'userinfo_url', 'text'],
    ['p-jwks-url', 'jwks_url', 'text'], ['p-url', 'url', 'text'], ['p-bind-dn', 'bind_dn', 'text'], ['p-base-dn', 'base_dn', 'text'],
    ['p-user-filter', 'user_filter', 'text'], ['p-email-attribute', 'email_attribute', 'text'],
    ['p-display-attribute', 'display_attribute', 'text'], ['p-ca-cert', 'ca_cert', 'text'],
    ['p-sp-entity-id', 'sp_entity_id', 'text'], ['p-idp-entity-id', 'idp_entity_id', 'text'],
    ['p-idp-sso-url', 'idp_sso_url', 'text'], ['p-idp-cert', 'idp_cert', 'text'],
    ['p-enabled', 'enabled', 'check'], ['p-mfa-trusted', 'mfa_trusted', 'check'], ['p-start-tls', 'start_tls', 'check'],
    ['p-skip-verify', 'skip_verify', 'check'], ['p-allow-unsigned', 'allow_unsigned_assertions', 'check'],
    ['p-require-encrypted', 'require_encrypted_assertions', 'check'], ['p-trust-email', 'trust_email', 'check'],
  ];
  const typeFields = {
    oidc: ['client_id', 'discovery_url', 'scopes', 'client_secret'],
    oauth2: ['client_id', 'auth_url', 'token_url', 'userinfo_url', 'jwks_url', 'scopes', 'client_secret', 'trust_email'],
    ldap: ['url', 'bind_dn', 'base_dn', 'user_filter', 'email_attribute', 'display_attribute', 'ca_cert', 'start_tls', 'skip_verify', 'bind_password', 'trust_email'],
    saml: ['sp_entity_id', 'idp_entity_id', 'idp_sso_url', 'idp_cert', 'allow_unsigned_assertions', 'require_encrypted_assertions'],
  };
  const common = ['name', 'username_attribute', 'enabled', 'mfa_trusted'];

  function showType() {
    const t = $('p-type').value;
    for (const fs of document.querySelectorAll('#provider-form fieldset')) {
      fs.hidden = !fs.dataset.types.split(' ').includes(t);
    }
  }

  function tri(v) { return v === null || v === undefined ? 'default' : String(v); }

  function edit(p) {
    $('editor').hidden = false;
    $('p-uuid').value = p ? p.uuid : '';
    $('p-type').value = p ? p.type : 'oidc';
    $('p-type').disabled = !!p;
    for (const [id, key, kind] of fields) {
      if (kind === 'check') $(id).checked = p ? !!p[key] : key === 'enabled';
      else $(id).value = (p && p[key]) || '';
    }
    $('p-scopes').value = p && p.scopes ? p.scopes.join(' ') : '';
    $('p-auto-create').value = tri(p && p.auto_create);
    $('p-auto-enable').value = tri(p && p.auto_enable);
    $('p-client-secret').value = '';
    $('p-bind-password').value = '';
    $('p-skip-confirm').checked = false;
    const urls = [];
    if (p && p.callback_url) urls.push(`Callback URL: ${p.callback_url}`);
    if (p && p.acs_url) urls.push(`ACS URL: ${p.acs_url}`, `Metadata URL: ${p.metadata_url}`);
    $('p-urls').textContent = urls.join(' · ');
    $('editor-heading').textContent = p ? `Edit ${p.name}` : 'Add a provider';
    showType();
    $('p-name').focus();
  }

  function body() {
    const t = $('p-type').value;
    const allowed = new Set([...common, ...typeFields[t]]);
    const b = {};
    for (const [id, key, kind] of fields) {
      if (!allowed.has(key)) continue;
      if (kind === 'check') b[key] = $(id).checked;
      else if ($(id).value !== '' || $('p-uuid').value) b[key] = $(id).value;
    }
    const scopes = $('p-scopes').value.split(/[\s,]+/).filter(Boolean);
    if (allowed.has('scopes')) b.scopes = scopes;
    b.auto_create = $('p-auto-create').value === 'default' ? 'default' : $('p-auto-create').value === 'true';
    b.auto_enable = $('p-auto-enable').value === 'default' ? 'default' : $('p-auto-enable').value === 'true';
    if (allowed.has('client_secret') && $('p-client-secret').value) b.client_secret = $('p-client-secret').value;
    if (allowed.has('bind_password') && $('p-bind-password').value) b.bind_password = $('p-bind-password').value;
    if (t === 'ldap' && b.skip_verify) b.i_understand_skip_verify = $('p-skip-confirm').checked;
    if (t === 'saml' && !$('p-uuid').value) b.sp_key_bits = parseInt($('p-sp-key-bits').value, 10);
    if (!$('p-uuid').value) b.type = t;
    return b;
  }

  $('provider-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const id = $('p-uuid').value;
    const b = body();
    const call = id
      ? () => api('PATCH', `/v1/sso/providers/${encodeURIComponent(id)}`, b)
      : () => api('POST', '/v1/sso/providers', b);
    write(call, async (resp) => {
      const p = resp.data;
      $('editor').hidden = true;
      say(`${p.name} saved.${p.callback_url ? ` Give the provider this callback URL: ${p.callback_url}` : ''}${p.acs_url ? ` ACS URL: ${p.acs_url}` : ''}`);
      (p.warnings || []).forEach((w) => fail(`Warning: ${w}`));
      await load();
      $('status').focus();
    });
  });
  $('p-type').addEventListener('change', showType);
  $('new-provider').addEventListener('click', () => edit(null));
  $('cancel-edit').addEventListener('click', () => { $('editor').hidden = true; });

  $('settings-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const b = { local_auth: $('s-local-auth').checked, auto_create: $('s-auto-create').checked, auto_enable: $('s-auto-enable').checked };
    if (!b.local_auth && !window.confirm('Ensure at least one admin has SSO access before disabling local authentication. Continue?')) return;
    write(() => api('PATCH', '/v1/sso/settings', b), () => say('Settings saved.'));
  });

  load();
})();
