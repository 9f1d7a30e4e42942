// Postroom's sync status in the page header (S5). It opens the sync socket
// (GET /api/v1/sync) with the browser's session cookie and says whether the
// page is live: "Syncing…" while it catches up, "Connected" once it is,
// "Offline" while it cannot reach the server (it reconnects by itself, with
// a growing wait), "Signed out" when the session ended. On a page that
// shows one item, a change to that item made elsewhere brings a notice
// with a link to reload; the page never reloads by itself, since the person
// may be editing. Without this script the status is simply not shown.
"use strict";

(() => {
  const box = document.querySelector("[data-sync]");
  if (!box || !("WebSocket" in window)) return;
  const label = box.querySelector("[data-sync-label]");
  const notice = document.querySelector("[data-sync-notice]");
  // The item this page shows, and the revision it shows.
  const item = box.dataset.item || null;
  const shown = Number(box.dataset.revision || 0);
  // Where the change log was read up to, per account: a cursor is signed
  // for the account it was made for.
  const key = "postroom.sync." + (box.dataset.user || "");

  // A message (a heartbeat at least) comes every 15 s on a live socket.
  const SILENCE = 45000;
  const MAX_WAIT = 30000;

  const cursor = {
    get() { try { return localStorage.getItem(key); } catch (e) { return null; } },
    set(c) { try { localStorage.setItem(key, c); } catch (e) { /* private mode: start over next time */ } },
    drop() { try { localStorage.removeItem(key); } catch (e) { /* nothing kept */ } },
  };

  let socket = null;
  let opened = false;
  let attempts = 0;
  let retryTimer = null;
  let silenceTimer = null;
  let stopped = false;

  function show(state, text) {
    box.dataset.state = state;
    if (label.textContent !== text) label.textContent = text;
    box.hidden = false;
  }

  function socketUrl() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const since = cursor.get();
    return scheme + "//" + location.host + "/api/v1/sync" + (since ? "?since=" + encodeURIComponent(since) : "");
  }

  function connect() {
    clearTimeout(retryTimer);
    retryTimer = null;
    if (stopped || socket) return;
    // While offline it stays "Offline" until a socket opens, rather than
    // flickering with every attempt.
    if (box.dataset.state !== "offline") show("syncing", "Syncing…");
    opened = false;
    let ws;
    try {
      ws = new WebSocket(socketUrl());
    } catch (e) {
      show("offline", "Offline");
      retry();
      return;
    }
    socket = ws;
    ws.onopen = () => {
      opened = true;
      show("syncing", "Syncing…");
      alive();
    };
    ws.onmessage = (event) => { alive(); receive(event.data); };
    ws.onclose = (event) => {
      if (socket !== ws) return;
      socket = null;
      closed(event.code);
    };
  }

  // Drops the socket without waiting for its closing handshake.
  function drop() {
    clearTimeout(silenceTimer);
    const ws = socket;
    socket = null;
    if (ws) {
      ws.onclose = null;
      ws.onmessage = null;
      try { ws.close(1000); } catch (e) { /* already closed */ }
    }
  }

  // A socket that says nothing for too long is dead, whatever it claims.
  function alive() {
    clearTimeout(silenceTimer);
    silenceTimer = setTimeout(() => {
      drop();
      show("offline", "Offline");
      retry();
    }, SILENCE);
  }

  function receive(text) {
    let message;
    try { message = JSON.parse(text); } catch (e) { return; }
    if (message.cursor) cursor.set(message.cursor);
    if (message.type === "synced") {
      attempts = 0;
      show("connected", "Connected");
    } else if (message.type === "change" && message.change) {
      changed(message.change);
    }
  }

  // A change to the item this page shows: tell, once it is newer than the
  // page (changes caught up after a reconnect may be older).
  function changed(change) {
    if (!item || !notice || change.id !== item) return;
    const who = change.actor && change.actor.username;
    if (change.op === "deleted") {
      tell(who ? "Deleted by " + who : "No longer available here");
    } else if (change.revision > shown) {
      tell(who ? "Updated by " + who : "Updated elsewhere");
    } else {
      notice.hidden = true;
    }
  }

  function tell(text) {
    const here = new URL(location.href);
    here.searchParams.delete("flash");
    const reload = document.createElement("a");
    reload.href = here.pathname + here.search + here.hash;
    reload.textContent = "reload";
    notice.replaceChildren(document.createTextNode(text + " — "), reload);
    notice.hidden = false;
  }

  function closed(code) {
    clearTimeout(silenceTimer);
    if (stopped) return;
    if (code === 4001) {
      signedOut();
    } else if (code === 4010) {
      // The cursor is older than the change log: start from nothing.
      cursor.drop();
      again();
    } else if (code === 4003 || code === 4008 || code === 1001) {
      // Access changed, too slow, or the server is restarting: at once,
      // from the cursor.
      again();
    } else if (!opened) {
      diagnose();
    } else {
      show("offline", "Offline");
      retry();
    }
  }

  // At once the first time; with the usual wait if it keeps happening.
  function again() {
    if (attempts === 0) {
      attempts = 1;
      connect();
    } else {
      show("offline", "Offline");
      retry();
    }
  }

  // The socket was refused before it opened, and a browser does not say
  // why: the change log, asked the same question, does.
  async function diagnose() {
    show("offline", "Offline");
    const since = cursor.get();
    let status = 0;
    try {
      const r = await fetch("/api/v1/changes?limit=1" + (since ? "&since=" + encodeURIComponent(since) : ""), {
        credentials: "same-origin",
        headers: { accept: "application/json" },
      });
      status = r.status;
    } catch (e) {
      status = 0;
    }
    if (stopped) return;
    if (status === 401) {
      signedOut();
    } else if (since && (status === 400 || status === 410)) {
      // A cursor that expired, or that is not this account's.
      cursor.drop();
      again();
    } else {
      retry();
    }
  }

  function retry() {
    if (stopped || retryTimer) return;
    const wait = Math.min(MAX_WAIT, 1000 * 2 ** Math.min(attempts, 5));
    attempts += 1;
    retryTimer = setTimeout(connect, wait * (0.5 + Math.random() / 2));
  }

  function signedOut() {
    stopped = true;
    clearTimeout(retryTimer);
    drop();
    show("signed-out", "Signed out");
  }

  window.addEventListener("online", () => {
    if (stopped || socket) return;
    attempts = 0;
    connect();
  });
  window.addEventListener("offline", () => {
    if (!socket) return;
    drop();
    show("offline", "Offline");
    retry();
  });
  // Leaving the page closes the socket (and lets the page be cached);
  // coming back to it from the cache opens it again.
  window.addEventListener("pagehide", () => {
    clearTimeout(retryTimer);
    retryTimer = null;
    drop();
  });
  window.addEventListener("pageshow", (event) => {
    if (event.persisted && !stopped) {
      attempts = 0;
      connect();
    }
  });

  connect();
})();
