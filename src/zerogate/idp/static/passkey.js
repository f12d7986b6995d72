// Zerogate passkeys: runs the WebAuthn ceremony the server began and posts the result back.
//
// A form marked data-passkey="create" (register) or "get" (sign in) carries the server's options
// JSON in data-options, or a data-begin URL to fetch them from (with the form's CSRF token). The
// browser's answer goes back in the form's hidden "credential" field, with the "ticket" that
// names the ceremony; the server checks everything. Such forms stay hidden unless this script
// runs, so the pages work as before without JavaScript; data-optional ones also stay hidden in a
// browser without WebAuthn.
"use strict";

(function () {
  const MESSAGES = {
    NotAllowedError:
      "The passkey request was cancelled or timed out, or this device could not verify you. " +
      "Try again, or use another way.",
    InvalidStateError: "This device already has a passkey for your account.",
    SecurityError: "Passkeys cannot be used at this address.",
    NotSupportedError: "This device cannot make a passkey of a kind this site accepts.",
    AbortError: "The passkey request was cancelled. Try again when you are ready.",
  };
  const UNAVAILABLE = "Passkeys are not available right now. Reload the page and try again.";
  const UNSUPPORTED = "This browser does not support passkeys. Use another way to sign in.";

  function bytesOf(text) {
    const base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    const binary = atob(base64 + "===".slice((base64.length + 3) % 4));
    return Uint8Array.from(binary, (c) => c.charCodeAt(0));
  }

  function textOf(buffer) {
    let binary = "";
    for (const byte of new Uint8Array(buffer)) {
      binary += String.fromCharCode(byte);
    }
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function descriptors(list) {
    return (list || []).map((d) => Object.assign({}, d, { id: bytesOf(d.id) }));
  }

  function creationOptions(options) {
    return Object.assign({}, options, {
      challenge: bytesOf(options.challenge),
      user: Object.assign({}, options.user, { id: bytesOf(options.user.id) }),
      excludeCredentials: descriptors(options.excludeCredentials),
    });
  }

  function requestOptions(options) {
    return Object.assign({}, options, {
      challenge: bytesOf(options.challenge),
      allowCredentials: descriptors(options.allowCredentials),
    });
  }

  function credentialJSON(credential) {
    const r = credential.response;
    const response = { clientDataJSON: textOf(r.clientDataJSON) };
    if (r.attestationObject) {
      response.attestationObject = textOf(r.attestationObject);
      response.transports = r.getTransports ? r.getTransports() : [];
    } else {
      response.authenticatorData = textOf(r.authenticatorData);
      response.signature = textOf(r.signature);
      if (r.userHandle) {
        response.userHandle = textOf(r.userHandle);
      }
    }
    const json = {
      id: credential.id,
      rawId: textOf(credential.rawId),
      type: credential.type,
      clientExtensionResults: credential.getClientExtensionResults(),
      response: response,
    };
    if (typeof credential.authenticatorAttachment === "string") {
      json.authenticatorAttachment = credential.authenticatorAttachment;
    }
    return JSON.stringify(json);
  }

  // The one live region of the form: cleared, then given the new message, so it is announced.
  function say(form, message) {
    const region = form.querySelector("[data-passkey-status]");
    region.replaceChildren();
    if (message) {
      const p = document.createElement("p");
      p.className = "error";
      p.textContent = message;
      region.append(p);
    }
  }

  async function begin(form) {
    if (form.dataset.options) {
      return { ticket: form.elements.ticket.value, options: JSON.parse(form.dataset.options) };
    }
    const response = await fetch(form.dataset.begin, {
      method: "POST",
      credentials: "same-origin",
      headers: { accept: "application/json" },
      body: new URLSearchParams({ csrf: form.elements.csrf.value }),
    });
    const body = await response.json().catch(() => null);
    if (body && typeof body.redirect === "string" && body.redirect.startsWith("/")) {
      window.location.assign(body.redirect); // sign in again first (a recent sign-in is needed)
      return null;
    }
    if (!response.ok || !body || !body.options) {
      throw new Error("begin");
    }
    return body;
  }

  async function run(form, button) {
    say(form, "");
    button.disabled = true;
    form.setAttribute("aria-busy", "true");
    try {
      const begun = await begin(form);
      if (begun === null) {
        return;
      }
      const credential =
        form.dataset.passkey === "create"
          ? await navigator.credentials.create({ publicKey: creationOptions(begun.options) })
          : await navigator.credentials.get({ publicKey: requestOptions(begun.options) });
      if (!credential) {
        throw new DOMException("no credential", "NotAllowedError");
      }
      form.elements.ticket.value = begun.ticket;
      form.elements.credential.value = credentialJSON(credential);
      form.submit(); // a normal form post: the server answers with the next page
    } catch (error) {
      say(form, (error && MESSAGES[error.name]) || UNAVAILABLE);
      button.disabled = false;
      form.removeAttribute("aria-busy");
      button.focus();
    }
  }

  for (const form of document.querySelectorAll("form[data-passkey]")) {
    const button = form.querySelector("button[type=submit]");
    if (!window.PublicKeyCredential || !navigator.credentials) {
      if (!form.hasAttribute("data-optional")) {
        form.hidden = false; // say why the only way offered here cannot work
        button.disabled = true;
        say(form, UNSUPPORTED);
      }
      continue;
    }
    form.hidden = false;
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      run(form, button);
    });
    if (form.hasAttribute("data-focus")) {
      button.focus();
    }
  }
})();
