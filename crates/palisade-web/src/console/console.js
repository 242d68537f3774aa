// Passkeys (WebAuthn) for the Palisade console: the only script, served from the
// binary (the CSP allows scripts from this origin alone). The server keeps the
// ceremony; this file only carries its options to the authenticator and back.
"use strict";

function fromB64u(s) {
  const b64 = s.replace(/-/g, "+").replace(/_/g, "/");
  const bin = atob(b64 + "===".slice((b64.length + 3) % 4));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0)).buffer;
}

function toB64u(buf) {
  const bin = String.fromCharCode(...new Uint8Array(buf));
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function creationOptions(o) {
  const pk = o.publicKey;
  pk.challenge = fromB64u(pk.challenge);
  pk.user.id = fromB64u(pk.user.id);
  (pk.excludeCredentials || []).forEach((c) => { c.id = fromB64u(c.id); });
  return o;
}

function requestOptions(o) {
  const pk = o.publicKey;
  pk.challenge = fromB64u(pk.challenge);
  (pk.allowCredentials || []).forEach((c) => { c.id = fromB64u(c.id); });
  return o;
}

function credentialJson(c) {
  const r = c.response;
  const response = { clientDataJSON: toB64u(r.clientDataJSON) };
  if (r.attestationObject) response.attestationObject = toB64u(r.attestationObject);
  if (r.authenticatorData) response.authenticatorData = toB64u(r.authenticatorData);
  if (r.signature) response.signature = toB64u(r.signature);
  if (r.userHandle) response.userHandle = toB64u(r.userHandle);
  return JSON.stringify({
    id: c.id, rawId: toB64u(c.rawId), type: c.type, response,
    extensions: c.getClientExtensionResults(),
  });
}

async function post(url, fields) {
  const r = await fetch(url, {
    method: "POST", credentials: "same-origin",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(fields),
  });
  if (!r.ok) throw new Error(await r.text());
  return r;
}

function say(id, text) {
  const el = document.getElementById(id);
  if (el) el.textContent = text;
}

async function register(form) {
  const fields = new FormData(form);
  const start = await (await post("/account/passkeys/start", fields)).json();
  const cred = await navigator.credentials.create(creationOptions(start.options));
  await post("/account/passkeys/finish", {
    csrf: fields.get("csrf"), ceremony: start.ceremony, credential: credentialJson(cred),
  });
  location.assign("/account/passkeys");
}

async function login(form) {
  const fields = new FormData(form);
  const start = await (await post("/login/passkey/start", {
    csrf: fields.get("csrf"), address: fields.get("address"),
  })).json();
  const cred = await navigator.credentials.get(requestOptions(start.options));
  await post("/login/passkey/finish", {
    csrf: fields.get("csrf"), ceremony: start.ceremony, credential: credentialJson(cred),
  });
  location.assign("/account");
}

document.addEventListener("DOMContentLoaded", () => {
  const reg = document.getElementById("passkey-register");
  if (reg) {
    reg.addEventListener("submit", (e) => {
      e.preventDefault();
      register(reg).catch((err) => say("passkey-status", err.message));
    });
  }
  const button = document.getElementById("passkey-login");
  if (button) {
    button.hidden = !window.PublicKeyCredential;
    button.addEventListener("click", () => {
      login(button.form).catch((err) => say("passkey-status", err.message));
    });
  }
});
