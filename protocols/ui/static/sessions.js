// The session list: every session of the signed-in account, revoke any of
// them, log out of this one.
'use strict';

(() => {
  const { $, api, say, fail, loginURL, when, reauthFlow } = GH;
  let account = '';

  async function load() {
    let self;
    try {
      self = await api('GET', '/v1/self');
    } catch (e) {
      if (e.status === 401) { location.assign(loginURL()); return; }
      fail(e.message);
      return;
    }
    account = self.data.name;
    $('who').textContent = `Signed in as ${self.data.spn || account}.`;
    let list;
    try {
      list = await api('GET', `/v1/session/${encodeURIComponent(account)}`);
    } catch (e) {
      fail(e.message);
      return;
    }
    render(list.data.sessions || []);
  }

  function render(sessions) {
    const body = $('sessions-body');
    body.replaceChildren();
    for (const s of sessions) {
      const tr = document.createElement('tr');
      tr.dataset.session = s.id;
      const cells = [s.id + (s.current ? ' (this session)' : ''), s.mechanism, when(s.issued), when(s.expires)];
      for (const c of cells) {
        const td = document.createElement('td');
        td.textContent = c;
        tr.append(td);
      }
      const td = document.createElement('td');
      const b = document.createElement('button');
      b.type = 'button';
      b.textContent = s.current ? 'Log out' : 'Revoke';
      b.setAttribute('aria-label', s.current ? 'Log out of this session' : `Revoke session ${s.id}`);
      b.addEventListener('click', () => (s.current ? logout() : revoke(s.id)));
      td.append(b);
      tr.append(td);
      body.append(tr);
    }
    $('sessions').hidden = sessions.length === 0;
    if (!sessions.length) say('No sessions are recorded yet.');
  }

  // revoked reloads the list, whose rebuild removes the button that had
  // the focus; the focus goes to the status message that says what
  // happened, not to <body> (where keyboard and screen-reader users would
  // lose their place).
  async function revoked() {
    say('Session revoked.');
    await load();
    $('status').focus();
  }

  async function revoke(id) {
    fail('');
    const del = () => api('DELETE', `/v1/session/${encodeURIComponent(id)}`);
    try {
      await del();
    } catch (e) {
      if (e.code === 'reauth_required') {
        reauthFlow(del, revoked);
        return;
      }
      fail(e.message);
      return;
    }
    await revoked();
  }

  async function logout() {
    fail('');
    try {
      await api('POST', '/v1/logout');
    } catch (e) {
      if (e.status !== 401) { fail(e.message); return; }
    }
    location.assign('/ui/login');
  }

  $('logout').addEventListener('click', logout);
  load();
})();
