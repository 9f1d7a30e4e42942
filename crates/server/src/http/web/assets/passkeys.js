// Passkeys (WebAuthn) on the sign-in page and in the security settings.
// Loaded only where the server can have passkeys. The server keeps each
// ceremony's state; this script carries the challenge to the browser's
// authenticator and its answer back, as WebAuthn's JSON (binary values in
// unpadded base64url), with the page's CSRF token.
"use strict";

(() => {
  function fromBase64url(text) {
    const b64 = text.replace(/-/g, "+").replace(/_/g, "/");
    const bin = atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4));
    return Uint8Array.from(bin, (c) => c.charCodeAt(0));
  }

  function toBase64url(buffer) {
    const bytes = new Uint8Array(buffer);
    let bin = "";
    for (let i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  const withIds = (list) => (list || []).map((c) => Object.assign({}, c, { id: fromBase64url(c.id) }));

  function creationOptions(options) {
    const o = Object.assign({}, options.publicKey);
    o.challenge = fromBase64url(o.challenge);
    o.user = Object.assign({}, o.user, { id: fromBase64url(o.user.id) });
    o.excludeCredentials = withIds(o.excludeCredentials);
    return o;
  }

  function requestOptions(options) {
    const o = Object.assign({}, options.publicKey);
    o.challenge = fromBase64url(o.challenge);
    o.allowCredentials = withIds(o.allowCredentials);
    return o;
  }

  function registrationJSON(credential) {
    const r = credential.response;
    return {
      id: credential.id,
      rawId: toBase64url(credential.rawId),
      type: credential.type,
      response: {
        attestationObject: toBase64url(r.attestationObject),
        clientDataJSON: toBase64url(r.clientDataJSON),
        transports: typeof r.getTransports === "function" ? r.getTransports() : undefined,
      },
      extensions: credential.getClientExtensionResults(),
    };
  }

  function assertionJSON(credential) {
    const r = credential.response;
    return {
      id: credential.id,
      rawId: toBase64url(credential.rawId),
      type: credential.type,
      response: {
        authenticatorData: toBase64url(r.authenticatorData),
        clientDataJSON: toBase64url(r.clientDataJSON),
        signature: toBase64url(r.signature),
        userHandle: r.userHandle ? toBase64url(r.userHandle) : null,
      },
      extensions: credential.getClientExtensionResults(),
    };
  }

  class ServerError extends Error {
    constructor(body, status) {
      const e = (body && body.error) || {};
      super(e.message || "The server could not be reached (" + status + ").");
      this.code = e.code || "";
      this.fields = e.fields || {};
    }
  }

  async function post(url, body) {
    const meta = document.querySelector('meta[name="csrf-token"]');
    let res;
    try {
      res = await fetch(url, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": meta ? meta.content : "" },
        body: JSON.stringify(body),
      });
    } catch (e) {
      throw new ServerError(null, "offline");
    }
    const data = await res.json().catch(() => null);
    if (!res.ok) throw new ServerError(data, res.status);
    return data;
  }

  const sentence = (text) => text.charAt(0).toUpperCase() + text.slice(1) + (/[.!?]$/.test(text) ? "" : ".");

  // What to tell the person when the browser's prompt ended without a passkey.
  function browserMessage(e) {
    if (e instanceof ServerError) return sentence(e.message);
    switch (e && e.name) {
      case "NotAllowedError":
        return "The passkey prompt was closed or timed out. Try again when you are ready.";
      case "InvalidStateError":
        return "This device already holds a passkey for your account here.";
      case "SecurityError":
        return "This browser refused passkeys for this address.";
      default:
        return "The passkey could not be used: " + ((e && e.message) || "unknown error") + ".";
    }
  }

  function show(status, text) {
    status.textContent = text;
    status.hidden = !text;
  }

  // The sign-in page: the button, and the browser's autofill (conditional
  // mediation) on the login field.
  function signIn(box) {
    const form = document.querySelector('form[action="/sign-in"]');
    const button = box.querySelector("[data-passkey-button]");
    const status = box.querySelector("[data-passkey-status]");
    let pending = null; // the autofill request waiting, to abort for the button

    async function finish(begun, credential) {
      const next = form && form.querySelector("input[name=next]");
      const keep = form && form.querySelector("input[name=keep_signed_in]");
      const done = await post("/sign-in/passkey/finish", {
        ceremony: begun.ceremony,
        credential: assertionJSON(credential),
        keep_signed_in: !!(keep && keep.checked),
        next: next ? next.value : null,
      });
      window.location.assign(done.redirect);
    }

    async function autofill() {
      if (!PublicKeyCredential.isConditionalMediationAvailable) return;
      if (!(await PublicKeyCredential.isConditionalMediationAvailable())) return;
      const controller = new AbortController();
      pending = controller;
      const started = Date.now();
      try {
        const begun = await post("/sign-in/passkey/begin", {});
        // Says that the browser holds the request (the tests wait for it).
        box.dataset.autofill = "waiting";
        const credential = await navigator.credentials.get({
          mediation: "conditional",
          publicKey: requestOptions(begun.options),
          signal: controller.signal,
        });
        if (pending !== controller) return;
        pending = null;
        show(status, "");
        await finish(begun, credential);
      } catch (e) {
        box.dataset.autofill = "ended";
        if (controller.signal.aborted) return;
        if (pending === controller) pending = null;
        // A request that timed out (after minutes) starts again, so that the
        // autofill keeps working on a page left open; one refused at once
        // stays refused rather than asking again and again.
        const timedOut = e && (e.name === "NotAllowedError" || e.code === "ceremony_expired");
        if (timedOut && Date.now() - started > 60000) return autofill();
        if (timedOut && !(e instanceof ServerError)) return;
        show(status, browserMessage(e));
      }
    }

    button.addEventListener("click", async () => {
      if (pending) {
        pending.abort();
        pending = null;
      }
      button.disabled = true;
      show(status, "");
      try {
        const begun = await post("/sign-in/passkey/begin", {});
        const credential = await navigator.credentials.get({ publicKey: requestOptions(begun.options) });
        await finish(begun, credential);
      } catch (e) {
        show(status, browserMessage(e));
        button.disabled = false;
        autofill();
      }
    });

    box.hidden = false;
    autofill();
  }

  // The security settings: adding a passkey.
  function register(form) {
    const status = form.querySelector("[data-passkey-status]");
    const button = form.querySelector("button[type=submit]");
    const note = document.querySelector("[data-passkey-nojs]");
    if (note) note.hidden = true;
    form.hidden = false;
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const password = form.querySelector("input[name=password]");
      const name = form.querySelector("input[name=name]");
      button.disabled = true;
      show(status, "");
      try {
        const begun = await post("/settings/security/passkeys/begin", { password: password.value });
        password.value = "";
        const credential = await navigator.credentials.create({ publicKey: creationOptions(begun.options) });
        const done = await post("/settings/security/passkeys/finish", {
          ceremony: begun.ceremony,
          name: name.value,
          credential: registrationJSON(credential),
        });
        window.location.assign(done.redirect);
      } catch (e) {
        const field = e instanceof ServerError && Object.values(e.fields)[0];
        show(status, field ? sentence(field) : browserMessage(e));
        button.disabled = false;
      }
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    if (!window.PublicKeyCredential || !navigator.credentials) return;
    document.querySelectorAll("[data-passkey-signin]").forEach(signIn);
    document.querySelectorAll("form[data-passkey-register]").forEach(register);
  });
})();
