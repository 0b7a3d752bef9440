// hotreload browser client: listens on /ws/hotreload and swaps CSS or reloads.
// No dependencies, no build step. Protocol: SPEC.md section 4.
(function () {
  "use strict";
  if (window.hotReload) return; // loaded twice: keep the first

  var script = document.currentScript;
  var maxAttempts = parseInt((script && script.getAttribute("data-max-attempts")) || "5", 10);
  if (!(maxAttempts >= 0)) maxAttempts = 5;
  var url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws/hotreload";

  var socket = null;
  var connected = false;
  var attempts = 0;
  var serverId = null;
  var seq = null;
  var retryTimer = null;

  function log(message) {
    if (window.console) console.log("[hotreload] " + message);
  }

  // A notice the page's CSS cannot restyle: text lives in a shadow root.
  function notify(message, type) {
    if (typeof window.showToast === "function") {
      try { window.showToast(message, type || "info"); return; } catch (e) { /* fall back */ }
    }
    if (!document.body) return;
    var host = document.getElementById("hotreload-notification");
    if (!host) {
      host = document.createElement("div");
      host.id = "hotreload-notification";
      host.style.cssText = "all:initial;position:fixed;z-index:2147483647;right:16px;bottom:16px;";
      var root = host.attachShadow ? host.attachShadow({ mode: "open" }) : host;
      var box = document.createElement("div");
      box.setAttribute("part", "box");
      box.style.cssText = "font:14px/1.4 system-ui,sans-serif;color:#fff;background:#1f2937;" +
        "padding:10px 14px;border-radius:8px;box-shadow:0 4px 16px rgba(0,0,0,.3);max-width:360px;";
      root.appendChild(box);
      document.body.appendChild(host);
    }
    var target = (host.shadowRoot || host).firstChild;
    target.textContent = message;
    target.style.background = type === "error" ? "#b91c1c" : "#1f2937";
    clearTimeout(notify.timer);
    notify.timer = setTimeout(function () {
      if (host.parentNode) host.parentNode.removeChild(host);
    }, 3000);
  }

  // Segments of a path, without query, for suffix matching.
  function segments(path) {
    return path.split("?")[0].split("#")[0].split("/").filter(function (s) { return s.length; });
  }

  // How many trailing segments two paths share.
  function sharedSuffix(a, b) {
    var n = 0;
    while (n < a.length && n < b.length && a[a.length - 1 - n] === b[b.length - 1 - n]) n++;
    return n;
  }

  function reloadStylesheets(paths) {
    var links = Array.prototype.slice.call(document.querySelectorAll('link[rel~="stylesheet"][href]'))
      .filter(function (link) {
        try { return new URL(link.href, location.href).origin === location.origin; } catch (e) { return false; }
      });
    var changed = paths.map(segments);
    var best = 0;
    var scores = links.map(function (link) {
      var mine = segments(new URL(link.href, location.href).pathname);
      var score = 0;
      changed.forEach(function (c) { score = Math.max(score, sharedSuffix(mine, c)); });
      best = Math.max(best, score);
      return score;
    });
    links.forEach(function (link, i) {
      if (best === 0 || scores[i] === best) swapStylesheet(link);
    });
  }

  // Load the new sheet beside the old one; drop the old only once the new
  // one has loaded (no flash of unstyled content), keep it if loading fails.
  function swapStylesheet(link) {
    var next = link.cloneNode(false);
    var u = new URL(link.href, location.href);
    u.searchParams.set("hotreload", Date.now().toString(36));
    next.href = u.toString();
    next.onload = function () { if (link.parentNode) link.parentNode.removeChild(link); };
    next.onerror = function () { if (next.parentNode) next.parentNode.removeChild(next); };
    link.parentNode.insertBefore(next, link.nextSibling);
  }

  function reloadImages(paths) {
    var changed = paths.map(segments);
    function matches(src) {
      try {
        var mine = segments(new URL(src, location.href).pathname);
        return changed.some(function (c) { return sharedSuffix(mine, c) > 0 && mine[mine.length - 1] === c[c.length - 1]; });
      } catch (e) { return false; }
    }
    function bust(src) {
      var u = new URL(src, location.href);
      u.searchParams.set("hotreload", Date.now().toString(36));
      return u.toString();
    }
    Array.prototype.forEach.call(document.images, function (img) {
      if (img.getAttribute("src") && matches(img.src)) img.src = bust(img.src);
    });
  }

  // Reload once the page answers, so a build still writing files does not
  // leave the browser on an error page. Bounded: at most about 5 s.
  function reloadWhenReady() {
    var tries = 0;
    (function probe() {
      tries++;
      fetch(location.href, { method: "HEAD", cache: "no-store" }).then(function (r) {
        if (r.ok || tries >= 10) location.reload(); else setTimeout(probe, 500);
      }, function () {
        if (tries >= 10) location.reload(); else setTimeout(probe, 500);
      });
    })();
  }

  function isType(path, exts) {
    var m = /\.([a-z0-9]+)$/i.exec(path.split("?")[0]);
    return !!m && exts.indexOf(m[1].toLowerCase()) >= 0;
  }

  function apply(msg) {
    var event;
    try {
      event = new CustomEvent("hotreload:change", { detail: msg, cancelable: true });
    } catch (e) {
      event = document.createEvent("CustomEvent");
      event.initCustomEvent("hotreload:change", false, true, msg);
    }
    if (!window.dispatchEvent(event)) return; // the page handled it
    var paths = (msg.changes || []).map(function (c) { return c.path; });
    if (!paths.length && msg.path) paths = [msg.path];
    if (msg.action === "css") {
      reloadStylesheets(paths);
    } else if (msg.action === "image") {
      reloadImages(paths);
    } else if (paths.some(function (p) { return isType(p, ["js", "mjs"]); })) {
      notify("Reloading: JavaScript file changed");
      setTimeout(reloadWhenReady, 500);
    } else {
      reloadWhenReady();
    }
  }

  function onMessage(event) {
    var msg;
    try { msg = JSON.parse(event.data); } catch (e) { return; }
    if (msg.type === "connected") {
      var restarted = serverId !== null && msg.server_id !== serverId;
      var missed = seq !== null && msg.seq > seq;
      serverId = msg.server_id;
      if (restarted || missed) {
        log(restarted ? "server restarted; reloading" : "changes while disconnected; reloading");
        reloadWhenReady();
        return;
      }
      seq = msg.seq;
    } else if (msg.type === "file_changed") {
      seq = msg.seq;
      apply(msg);
    }
  }

  function connect() {
    clearTimeout(retryTimer);
    try {
      socket = new WebSocket(url);
    } catch (e) {
      scheduleRetry();
      return;
    }
    var mine = socket;
    socket.onopen = function () {
      if (mine !== socket) return;
      connected = true;
      attempts = 0;
    };
    socket.onmessage = function (event) { if (mine === socket) onMessage(event); };
    socket.onclose = function () {
      if (mine !== socket) return;
      connected = false;
      socket = null;
      scheduleRetry();
    };
  }

  function scheduleRetry() {
    if (attempts >= maxAttempts) {
      notify("Hot reload disconnected. Call hotReload.reconnect() or refresh the page.", "error");
      return;
    }
    attempts++;
    // 0.5 s, 1 s, 2 s, 4 s, ... capped at 10 s.
    var delay = Math.min(500 * Math.pow(2, attempts - 1), 10000);
    retryTimer = setTimeout(connect, delay);
  }

  window.hotReload = {
    status: function () {
      return { connected: connected, attempts: attempts, serverId: serverId, seq: seq, url: url };
    },
    test: function () {
      notify("Reloading: hot reload test");
      setTimeout(reloadWhenReady, 500);
    },
    reconnect: function () {
      var old = socket;
      socket = null;
      if (old) { try { old.close(); } catch (e) { /* already closed */ } }
      attempts = 0;
      connected = false;
      connect();
    }
  };

  if (!("WebSocket" in window)) {
    log("this browser has no WebSocket support; hot reload is off");
    return;
  }
  connect();
})();
