// The login page: name → offered mechanisms → one step at a time, or a
// usernameless passkey. The server sets the session cookie on success.
'use strict';

(() => {
  const { $, api, Stepper, safeNext } = GH;
  const next = safeNext(new URLSearchParams(location.search).get('next')) || '/ui/sessions';

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
})();
