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
