// Postroom dashboard enhancements. Every page works without this script;
// it adds previews, copy buttons, confirmations and the captcha solver.
"use strict";

// SHA-256 of an ASCII string, as lower-case hex. crypto.subtle is used when
// the page is a secure context; this covers plain-HTTP deployments.
const K = new Uint32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

function sha256Hex(text) {
  const bytes = new TextEncoder().encode(text);
  const bitLen = bytes.length * 8;
  const total = ((bytes.length + 9 + 63) >> 6) << 6;
  const msg = new Uint8Array(total);
  msg.set(bytes);
  msg[bytes.length] = 0x80;
  const view = new DataView(msg.buffer);
  view.setUint32(total - 4, bitLen >>> 0);
  view.setUint32(total - 8, Math.floor(bitLen / 0x100000000));
  const h = new Uint32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);
  const w = new Uint32Array(64);
  const rotr = (x, n) => (x >>> n) | (x << (32 - n));
  for (let off = 0; off < total; off += 64) {
    for (let i = 0; i < 16; i++) w[i] = view.getUint32(off + i * 4);
    for (let i = 16; i < 64; i++) {
      const s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >>> 3);
      const s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >>> 10);
      w[i] = (w[i - 16] + s0 + w[i - 7] + s1) >>> 0;
    }
    let [a, b, c, d, e, f, g, hh] = h;
    for (let i = 0; i < 64; i++) {
      const t1 = (hh + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i]) >>> 0;
      const t2 = ((rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) >>> 0;
      hh = g; g = f; f = e; e = (d + t1) >>> 0; d = c; c = b; b = a; a = (t1 + t2) >>> 0;
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += hh;
  }
  return Array.from(h, (x) => x.toString(16).padStart(8, "0")).join("");
}

async function solveCaptcha(box) {
  const input = box.querySelector("input[name=captcha]");
  const status = box.querySelector("[data-captcha-status]");
  const form = box.closest("form");
  const submit = form && form.querySelector("button[type=submit]");
  if (submit) submit.disabled = true;
  status.textContent = "Checking that you are not a robot…";
  try {
    const res = await fetch("/api/v1/captcha", { credentials: "same-origin" });
    const c = await res.json();
    for (let n = 0; n <= c.maxnumber; n++) {
      if (sha256Hex(c.salt + n) === c.challenge) {
        input.value = btoa(JSON.stringify({ algorithm: c.algorithm, challenge: c.challenge, number: n, salt: c.salt, signature: c.signature }));
        status.textContent = "Verified: you are not a robot.";
        box.classList.add("done");
        return;
      }
      if (n % 5000 === 0) await new Promise((r) => setTimeout(r));
    }
    status.textContent = "The check failed; reload the page to try again.";
  } catch (e) {
    status.textContent = "The check could not run; reload the page to try again.";
  } finally {
    if (submit) submit.disabled = false;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("[data-captcha]").forEach(solveCaptcha);

  document.querySelectorAll("input[type=file][data-preview]").forEach((input) => {
    input.addEventListener("change", () => {
      const img = document.querySelector(input.dataset.preview);
      const file = input.files && input.files[0];
      if (!img || !file) return;
      img.src = URL.createObjectURL(file);
      img.hidden = false;
      const placeholder = document.querySelector(input.dataset.preview + "-placeholder");
      if (placeholder) placeholder.hidden = true;
    });
  });

  document.querySelectorAll("button[data-copy]").forEach((button) => {
    button.hidden = false;
    button.addEventListener("click", async () => {
      const source = document.querySelector(button.dataset.copy);
      if (!source) return;
      try {
        await navigator.clipboard.writeText(source.textContent.trim());
        button.textContent = "Copied";
      } catch (e) {
        const range = document.createRange();
        range.selectNodeContents(source);
        const sel = window.getSelection();
        sel.removeAllRanges();
        sel.addRange(range);
        button.textContent = "Press Ctrl+C to copy";
      }
    });
  });

  // A new team's URL name follows its name until it is typed by hand;
  // without JavaScript it is simply typed.
  document.querySelectorAll("form[data-slug-form]").forEach((form) => {
    const name = form.querySelector("input[name=name]");
    const slug = form.querySelector("input[name=slug]");
    if (!name || !slug) return;
    let typed = slug.value !== "";
    const slugify = (s) =>
      s.normalize("NFKD").replace(/[\u0300-\u036f]/g, "").toLowerCase()
        .replace(/[^a-z0-9]+/g, "-").replace(/^-+/, "").slice(0, 39).replace(/-+$/, "");
    slug.addEventListener("input", () => { typed = slug.value !== ""; });
    name.addEventListener("input", () => { if (!typed) slug.value = slugify(name.value); });
  });

  document.querySelectorAll("form[data-confirm]").forEach((form) => {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  });

  // Secret values are masked until revealed; without this script the page
  // offers a "Show secret values" link instead.
  document.querySelectorAll("button[data-reveal]").forEach((button) => {
    const form = button.closest("form");
    const link = form && form.querySelector("[data-reveal-link]");
    if (link) link.hidden = true;
    button.hidden = false;
    button.addEventListener("click", () => {
      const inputs = form.querySelectorAll("input[data-secret]");
      const reveal = button.getAttribute("aria-pressed") !== "true";
      inputs.forEach((input) => { input.type = reveal ? "text" : "password"; });
      button.setAttribute("aria-pressed", reveal ? "true" : "false");
      button.textContent = reveal ? "Hide secret values" : "Reveal secret values";
    });
  });

  // Close the account menu when clicking elsewhere.
  document.addEventListener("click", (event) => {
    document.querySelectorAll("details.menu[open]").forEach((menu) => {
      if (!menu.contains(event.target)) menu.removeAttribute("open");
    });
  });
});
