// The account page: identities linked to the signed-in account (unlink
// any but the last way to sign in) and buttons to link another provider
// (/ui/sso/login/<uuid>?link=1, served by the SSO login).
'use strict';

(() => {
  const { $, api, say, fail, loginURL, when, reauthFlow } = GH;
  let me = null;

  async function load() {
    let r;
    try {
      r = await api('GET', '/v1/self/sso');
    } catch (e) {
      if (e.status === 401) { location.assign(loginURL()); return; }
      fail(e.message);
      return;
    }
    me = r.data;
    $('account').hidden = false;
    $('who').textContent = `Signed in as ${me.account}.`;
    const body = $('linked-body');
    body.replaceChildren();
    for (const x of me.identities || []) {
      const tr = document.createElement('tr');
      for (const c of [x.provider_name, x.subject, x.email || '', when(x.linked)]) {
        const td = document.createElement('td');
        td.textContent = c;
        tr.append(td);
      }
      const td = document.createElement('td');
      const b = document.createElement('button');
      b.type = 'button';
      b.textContent = 'Unlink';
      b.setAttribute('aria-label', `Unlink ${x.subject} at ${x.provider_name}`);
      b.addEventListener('click', () => unlink(x));
      td.append(b);
      tr.append(td);
      body.append(tr);
    }
    const none = !(me.identities || []).length;
    $('linked').hidden = none;
    $('no-linked').hidden = !none;
    const list = $('link-list');
    list.replaceChildren();
    for (const p of me.providers || []) {
      if (p.type === 'ldap') continue; // LDAP has no redirect: link by signing in with it
      const a = document.createElement('a');
      a.className = 'button';
      a.href = p.link_url;
      a.textContent = `Link ${p.name}`;
      list.append(a);
    }
    if (!list.firstChild) list.textContent = 'No other provider can be linked here.';
  }

  function unlink(x) {
    fail('');
    const del = () => api('DELETE', `/v1/person/${encodeURIComponent(me.uuid)}/sso/${encodeURIComponent(x.provider)}/${encodeURIComponent(x.subject)}`);
    const done = async () => {
      say(`Unlinked ${x.subject} at ${x.provider_name}.`);
      await load();
      $('status').focus();
    };
    del().then(done, (e) => {
      if (e.code === 'reauth_required') { reauthFlow(del, done); return; }
      fail(e.message);
    });
  }

  load();
})();
