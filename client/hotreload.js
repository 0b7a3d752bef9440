// hotreload browser client: listens on /ws/hotreload, swaps stylesheets and
// images in place, reloads the page for anything else. No dependencies, no
// build step. Messages: SPEC.md section 4; behaviour: section 5. Loaded as
// /livereload.js it speaks LiveReload protocol 7 instead (section 11).
(function () {
  "use strict";
  if (window.hotReload) return; // loaded twice: the first one runs

  var script = document.currentScript;
  var maxAttempts = parseInt((script && script.getAttribute("data-max-attempts")) || "5", 10);
  if (!(maxAttempts >= 0)) maxAttempts = 5;
  // Its server is where the script came from: the page's own, or (with
  // `hotreload watch`) another port the app's layout points at.
  var home = location;
  try {
    if (script && script.src) home = new URL(script.src);
  } catch (e) { /* an odd src: the page's own server */ }
  var scheme = home.protocol === "https:" ? "wss://" : "ws://";
  var url = scheme + home.host + "/ws/hotreload";
  // Where LiveReload snippets and the browser extensions put it: their
  // server is the script's own unless `?host=`, `?port=` or `?path=` of its
  // src say otherwise, as livereload-js reads them.
  var livereload = /\/livereload\.js$/.test(home.pathname || "");
  if (livereload) {
    var given = {};
    String(home.search || "").replace(/^\?/, "").split("&").forEach(function (pair) {
      var at = pair.indexOf("=");
      if (at > 0) given[pair.slice(0, at)] = decodeURIComponent(pair.slice(at + 1));
    });
    var port = given.port || home.port;
    url = scheme + (given.host || home.hostname) + (port ? ":" + port : "") + "/" +
      String(given.path || "livereload").replace(/^\//, "");
  }
  var LIVERELOAD_HELLO = JSON.stringify({ command: "hello", protocols: ["http://livereload.com/protocols/official-7"] });
  var JS_RELOAD_DELAY = 500; // ms the JavaScript notice shows before the reload

  var socket = null;
  var connected = false;
  var attempts = 0;
  var serverId = null;
  var seq = null;
  var retryTimer = null;
  var reloading = false;

  function log(message) {
    if (window.console) console.log("[hotreload] " + message);
  }

  // The page's own toasts when it has them (the seed's app does); else a
  // notice in a shadow root, so page CSS can neither restyle it nor be
  // disturbed by it. It removes itself.
  function notify(message, type, lasts) {
    if (message === null) {
      var shown = document.getElementById("hotreload-notification");
      if (shown && shown.parentNode) shown.parentNode.removeChild(shown);
      return;
    }
    if (typeof window.showToast === "function") {
      try {
        window.showToast(message, type || "info");
        return;
      } catch (e) {
        /* the page's toast failed: fall back to ours */
      }
    }
    if (!document.body) return;
    var host = document.getElementById("hotreload-notification");
    if (!host) {
      host = document.createElement("div");
      host.id = "hotreload-notification";
      // Inline !important beats any page rule, !important or not.
      host.style.cssText = "all:initial !important;display:block !important;position:fixed !important;" +
        "z-index:2147483647 !important;right:16px !important;bottom:16px !important;";
      var root = host.attachShadow ? host.attachShadow({ mode: "open" }) : host;
      var box = document.createElement("div");
      box.setAttribute("role", "status");
      box.style.cssText = "font:14px/1.4 system-ui,sans-serif;color:#fff;background:#1f2937;" +
        "padding:10px 14px;border-radius:8px;box-shadow:0 4px 16px rgba(0,0,0,.3);max-width:360px;";
      root.appendChild(box);
      document.body.appendChild(host);
    }
    var box2 = (host.shadowRoot || host).firstChild;
    box2.textContent = message;
    box2.style.background = type === "error" ? "#b91c1c" : "#1f2937";
    clearTimeout(notify.timer);
    if (lasts === 0) return; // stays until replaced or removed
    notify.timer = setTimeout(function () {
      if (host.parentNode) host.parentNode.removeChild(host);
    }, lasts || (type === "error" ? 8000 : 3000));
  }

  // Path segments of a changed path, without query or fragment.
  function segments(path) {
    return path.split("?")[0].split("#")[0].split("/").filter(function (s) { return s.length; });
  }

  // A URL's path segments, decoded: `/img/my%20photo.png` is the file
  // `img/my photo.png` that the server names.
  function urlSegments(pathname) {
    return segments(pathname).map(function (s) {
      try { return decodeURIComponent(s); } catch (e) { return s; }
    });
  }

  // How many trailing segments two segment lists share.
  function sharedSuffix(a, b) {
    var n = 0;
    while (n < a.length && n < b.length && a[a.length - 1 - n] === b[b.length - 1 - n]) n++;
    return n;
  }

  // The best match of a URL against the changed paths (0: none).
  function score(href, base, changed) {
    var mine;
    try { mine = urlSegments(new URL(href, base || location.href).pathname); } catch (e) { return 0; }
    var best = 0;
    changed.forEach(function (c) { best = Math.max(best, sharedSuffix(mine, c)); });
    return best;
  }

  function sameOrigin(href, base) {
    try { return new URL(href, base || location.href).origin === location.origin; } catch (e) { return false; }
  }

  // The URL with a cache-busting parameter of our own; other parameters stay.
  function bust(href, base) {
    var u = new URL(href, base || location.href);
    u.searchParams.set("hotreload", Date.now().toString(36));
    return u.toString();
  }

  // Each changed path picks the links it matches best, so a batch of two
  // sheets swaps both; a path no link matches may be an @import, so it
  // swaps every sheet. A sheet still loading from an earlier batch is not
  // a link of the page: its original is.
  function reloadStylesheets(paths) {
    var links = Array.prototype.filter.call(
      document.querySelectorAll('link[rel~="stylesheet"][href]'),
      function (link) { return sameOrigin(link.href) && !link.hotreloadOriginal; });
    var picked = links.map(function () { return false; });
    paths.forEach(function (path) {
      var scores = links.map(function (link) { return score(link.href, null, [segments(path)]); });
      var best = Math.max.apply(null, [0].concat(scores));
      scores.forEach(function (s, i) { if (best === 0 || s === best) picked[i] = true; });
    });
    links.forEach(function (link, i) { if (picked[i]) swapStylesheet(link); });
  }

  // The new sheet loads beside the old one; the old goes only once the new
  // one has loaded (no flash of unstyled content), and stays if it fails.
  // A second batch while one loads starts a fresher load and drops the
  // first: whichever the network finishes first, only the newest counts.
  function swapStylesheet(link) {
    var pending = link.hotreloadNext;
    if (pending && pending.parentNode) pending.parentNode.removeChild(pending);
    var next = link.cloneNode(false);
    next.removeAttribute("id");
    next.href = bust(link.href);
    next.hotreloadOriginal = link;
    link.hotreloadNext = next;
    next.onload = function () {
      if (link.hotreloadNext !== next) return;
      link.hotreloadNext = null;
      next.hotreloadOriginal = null;
      if (link.id) next.id = link.id;
      if (link.parentNode) link.parentNode.removeChild(link);
    };
    next.onerror = function () {
      if (link.hotreloadNext !== next) return;
      link.hotreloadNext = null;
      if (next.parentNode) next.parentNode.removeChild(next);
      log("could not load " + next.href + "; kept the old stylesheet");
    };
    link.parentNode.insertBefore(next, link.nextSibling);
  }

  // `url(...)` references in a CSS value that match, with a fresh URL each.
  function bustCssUrls(value, base, changed) {
    return value.replace(/url\(\s*(['"]?)([^'")]+)\1\s*\)/g, function (whole, quote, ref) {
      if (!sameOrigin(ref, base) || score(ref, base, changed) === 0) return whole;
      return 'url("' + bust(ref, base) + '")';
    });
  }

  function bustSrcset(srcset, changed) {
    return srcset.split(",").map(function (candidate) {
      var parts = candidate.trim().split(/\s+/);
      if (parts[0] && sameOrigin(parts[0]) && score(parts[0], null, changed) > 0) parts[0] = bust(parts[0]);
      return parts.join(" ");
    }).join(", ");
  }

  function reloadImages(paths) {
    var changed = paths.map(segments);
    Array.prototype.forEach.call(document.querySelectorAll("img[src], img[srcset], source[srcset]"), function (el) {
      var src = el.getAttribute("src");
      if (src && sameOrigin(src) && score(src, null, changed) > 0) el.setAttribute("src", bust(src));
      var srcset = el.getAttribute("srcset");
      if (srcset) {
        var next = bustSrcset(srcset, changed);
        if (next !== srcset) el.setAttribute("srcset", next);
      }
    });
    // Background images set inline and in same-origin stylesheets.
    Array.prototype.forEach.call(document.querySelectorAll("[style*='url(']"), function (el) {
      var value = el.style.backgroundImage;
      if (value) el.style.backgroundImage = bustCssUrls(value, null, changed);
    });
    Array.prototype.forEach.call(document.styleSheets, function (sheet) {
      var rules;
      try { rules = sheet.cssRules; } catch (e) { return; } // another origin's sheet
      bustRules(rules, sheet.href || location.href, changed);
    });
  }

  function bustRules(rules, base, changed) {
    Array.prototype.forEach.call(rules || [], function (rule) {
      if (rule.cssRules) bustRules(rule.cssRules, base, changed);
      var value = rule.style && rule.style.backgroundImage;
      if (value && value.indexOf("url(") >= 0) {
        var next = bustCssUrls(value, base, changed);
        if (next !== value) rule.style.backgroundImage = next;
      }
    });
  }

  // Reload once the page answers, so a build still writing files does not
  // leave the browser on an error page. Bounded: about 5 s, then reload anyway.
  function reloadWhenReady() {
    if (reloading) return;
    reloading = true;
    var tries = 0;
    (function probe() {
      tries++;
      var go = function (ok) {
        if (ok || tries >= 10) location.reload();
        else setTimeout(probe, 500);
      };
      if (typeof fetch !== "function") return go(true);
      // GET, as the reload will: many apps route no HEAD. The body is
      // not wanted, only the status, so the download stops there.
      var abort = typeof AbortController === "function" ? new AbortController() : null;
      fetch(location.href, { cache: "no-store", signal: abort && abort.signal }).then(
        function (r) {
          if (abort) abort.abort();
          go(r.ok);
        },
        function () { go(false); });
    })();
  }

  // As the server's own list (src/protocol.rs).
  var IMAGE_TYPES = ["png", "jpg", "jpeg", "gif", "svg", "webp", "avif"];

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
    if (!window.dispatchEvent(event)) return; // the page handled it itself
    var paths = (msg.changes || []).map(function (c) { return c.path; });
    if (!paths.length && msg.path) paths = [msg.path];
    if (msg.action === "css") {
      reloadStylesheets(paths);
    } else if (msg.action === "image") {
      reloadImages(paths);
    } else if (paths.some(function (p) { return isType(p, ["html", "htm"]); })) {
      reloadWhenReady();
    } else if (paths.some(function (p) { return isType(p, ["js", "mjs"]); })) {
      notify("Reloading: JavaScript file changed");
      setTimeout(reloadWhenReady, JS_RELOAD_DELAY);
    } else {
      reloadWhenReady();
    }
  }

  // Build, app and test results (SPEC.md section 10). A failed build, or
  // an app that stopped, covers the page with its output until the next
  // success, which reloads it; a page opened meanwhile gets the failure at
  // once. Test results are a notice; failed ones show their output, which
  // can be closed. Outside text is only ever textContent.
  var panels = {};

  function panel(id, title, output, covering) {
    closePanel(id);
    if (!document.body) return;
    var host = document.createElement("div");
    host.id = id;
    host.style.cssText = "all:initial !important;display:block !important;position:fixed !important;" +
      "z-index:2147483647 !important;left:0 !important;right:0 !important;bottom:0 !important;" +
      (covering ? "top:0 !important;" : "");
    var root = host.attachShadow ? host.attachShadow({ mode: "open" }) : host;
    var back = document.createElement("div");
    back.style.cssText = "box-sizing:border-box;height:100%;display:flex;align-items:" +
      (covering ? "center" : "flex-end") + ";justify-content:center;padding:12px;" +
      (covering ? "background:rgba(17,24,39,.72);" : "");
    var box = document.createElement("div");
    box.setAttribute("role", covering ? "alertdialog" : "status");
    box.style.cssText = "box-sizing:border-box;width:100%;max-width:60em;max-height:100%;display:flex;" +
      "flex-direction:column;background:#111827;color:#f9fafb;border-radius:10px;" +
      "box-shadow:0 8px 32px rgba(0,0,0,.45);font:14px/1.45 system-ui,sans-serif;overflow:hidden;" +
      "border-top:4px solid " + (covering ? "#dc2626" : "#f59e0b") + ";";
    var bar = document.createElement("div");
    bar.style.cssText = "display:flex;gap:12px;align-items:flex-start;padding:12px 14px;";
    var heading = document.createElement("div");
    heading.style.cssText = "flex:1;font-weight:600;overflow-wrap:anywhere;";
    heading.textContent = title;
    var close = document.createElement("button");
    close.type = "button";
    close.textContent = "Close (Esc)";
    close.style.cssText = "font:inherit;font-size:13px;color:#f9fafb;background:#374151;border:0;" +
      "border-radius:6px;padding:4px 10px;cursor:pointer;flex:none;";
    close.onclick = function () { closePanel(id); };
    var pre = document.createElement("pre");
    pre.style.cssText = "margin:0;padding:0 14px 14px;overflow:auto;white-space:pre-wrap;" +
      "overflow-wrap:anywhere;font:12.5px/1.45 ui-monospace,SFMono-Regular,Menlo,monospace;color:#e5e7eb;";
    pre.textContent = output || "(no output)";
    bar.appendChild(heading);
    bar.appendChild(close);
    box.appendChild(bar);
    box.appendChild(pre);
    back.appendChild(box);
    root.appendChild(back);
    document.body.appendChild(host);
    panels[id] = host;
    pre.scrollTop = pre.scrollHeight;
  }

  function closePanel(id) {
    var host = panels[id] || document.getElementById(id);
    if (host && host.parentNode) host.parentNode.removeChild(host);
    delete panels[id];
  }

  window.addEventListener("keydown", function (e) {
    if (e.key !== "Escape") return;
    closePanel("hotreload-tests");
    closePanel("hotreload-overlay");
  });

  var stale = false; // a failure was shown: the next success reloads

  function onBuild(msg) {
    if (msg.state === "running") {
      notify("Building: " + msg.command, "info", 0);
    } else if (msg.state === "failed") {
      stale = true;
      notify(null);
      var what = msg.source === "run" ? "Your app stopped" : "Build failed";
      var code = msg.exit_code === null || msg.exit_code === undefined ? "" : " (exit code " + msg.exit_code + ")";
      panel("hotreload-overlay", what + ": " + msg.command + code, msg.output, true);
    } else if (msg.state === "ok") {
      notify(null);
      closePanel("hotreload-overlay");
      if (stale) {
        stale = false;
        reloadWhenReady();
      }
    }
  }

  function onTest(msg) {
    if (msg.state === "passed") {
      closePanel("hotreload-tests");
      notify("Tests passed: " + msg.command, "info");
    } else {
      var code = msg.exit_code === null || msg.exit_code === undefined ? "" : " (exit code " + msg.exit_code + ")";
      panel("hotreload-tests", "Tests failed: " + msg.command + code, msg.output, false);
    }
  }

  // A LiveReload `reload` as the message it stands for: a stylesheet or
  // an image swapped in place when the server allows, else a reload.
  function onLiveReload(msg) {
    if (msg.command === "alert") {
      notify(String(msg.message || ""), "info");
      return;
    }
    if (msg.command !== "reload") return;
    var path = String(msg.path || "");
    var action = "reload";
    if (msg.liveCSS !== false && isType(path, ["css"])) action = "css";
    else if (msg.liveImg !== false && isType(path, IMAGE_TYPES)) action = "image";
    apply({ type: "file_changed", action: action, path: path, operation: "modified",
      changes: [{ path: path, operation: "modified" }], count: 1, truncated: false });
  }

  function onMessage(event) {
    var msg;
    try { msg = JSON.parse(event.data); } catch (e) { return; }
    if (livereload) {
      onLiveReload(msg);
    } else if (msg.type === "connected") {
      var restarted = serverId !== null && msg.server_id !== serverId;
      var missed = seq !== null && msg.seq > seq;
      serverId = msg.server_id;
      seq = msg.seq;
      if (restarted || missed) {
        log(restarted ? "the server restarted; reloading" : "files changed while disconnected; reloading");
        reloadWhenReady();
      }
    } else if (msg.type === "file_changed") {
      seq = msg.seq;
      apply(msg);
    } else if (msg.type === "build") {
      onBuild(msg);
    } else if (msg.type === "test") {
      onTest(msg);
    }
  }

  function connect() {
    clearTimeout(retryTimer);
    var mine;
    try {
      mine = socket = new WebSocket(url);
    } catch (e) {
      socket = null;
      scheduleRetry();
      return;
    }
    mine.onopen = function () {
      if (mine !== socket) return;
      connected = true;
      attempts = 0;
      if (livereload) mine.send(LIVERELOAD_HELLO);
    };
    mine.onmessage = function (event) {
      if (mine === socket) onMessage(event);
    };
    mine.onclose = function () {
      if (mine !== socket) return;
      connected = false;
      socket = null;
      scheduleRetry();
    };
  }

  // Backoff: 0.5 s, 1 s, 2 s, 4 s, 8 s (10 s at most), then give up.
  function scheduleRetry() {
    if (reloading) return;
    if (attempts >= maxAttempts) {
      notify("Hot reload lost the server after " + attempts + " attempts. " +
        "Run hotReload.reconnect() in the console or refresh the page.", "error");
      return;
    }
    attempts++;
    retryTimer = setTimeout(connect, Math.min(500 * Math.pow(2, attempts - 1), 10000));
  }

  window.hotReload = {
    status: function () {
      return { connected: connected, attempts: attempts, serverId: serverId, seq: seq, url: url,
        protocol: livereload ? "livereload" : "hotreload" };
    },
    test: function () {
      notify("Reloading: hot reload test");
      setTimeout(reloadWhenReady, JS_RELOAD_DELAY);
    },
    reconnect: function () {
      var old = socket;
      socket = null;
      connected = false;
      attempts = 0;
      if (old) {
        try { old.close(); } catch (e) { /* already closed */ }
      }
      connect();
    }
  };

  if (typeof window.WebSocket !== "function") {
    log("this browser has no WebSocket support; hot reload is off");
    return;
  }
  connect();
})();
