// The passkey ceremonies as a web page does them: options from the gateway, the browser's
// navigator.credentials, the credential's toJSON() back to the gateway. No bundler, no library.
'use strict';

async function post(path, body, token) {
  const headers = { 'content-type': 'application/json' };
  if (token) headers.authorization = 'Bearer ' + token;
  const res = await fetch(path, { method: 'POST', headers, body: JSON.stringify(body || {}) });
  return { status: res.status, body: await res.json() };
}

/** Adds a passkey to the account of `token` (a session from a recent login). */
async function register(token, name) {
  const options = await post('/v1/passkeys/registration-options', {}, token);
  if (options.status !== 200) return options;
  const publicKey = PublicKeyCredential.parseCreationOptionsFromJSON(options.body.options);
  const credential = await navigator.credentials.create({ publicKey });
  return post('/v1/passkeys', { name, response: credential.toJSON() }, token);
}

/** navigator.credentials.get() over options the gateway gave (a login's or a step-up's). */
async function assert(optionsJSON) {
  const publicKey = PublicKeyCredential.parseRequestOptionsFromJSON(optionsJSON);
  const credential = await navigator.credentials.get({ publicKey });
  return credential.toJSON();
}

/** A username-less login: the authenticator picks the account. */
async function login() {
  const options = await post('/v1/sessions/passkey/options');
  if (options.status !== 200) return options;
  return post('/v1/sessions/passkey', { response: await assert(options.body.options) });
}

window.vigilPasskeys = { register, assert, login };

document.addEventListener('DOMContentLoaded', () => {
  const out = document.getElementById('out');
  const show = (result) => (out.textContent = JSON.stringify(result, null, 2));
  document
    .getElementById('register')
    .addEventListener('click', () => register(document.getElementById('token').value, 'this browser').then(show, show));
  document.getElementById('login').addEventListener('click', () => login().then(show, show));
});
