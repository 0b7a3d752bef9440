// hotreload browser client: listens on /ws/hotreload, swaps stylesheets and
// images in place, reloads the page for anything else. No dependencies, no
// build step. Messages: SPEC.md section 4; behaviour: section 5. Loaded as
// /livereload.js it speaks LiveReload protocol 7 instead (section 11).
(function () {
  "use strict";
  if (window.hotReload) return; // loaded twice: the first one runs
  // In the hidden frame where a new page is tried out before a reload
  // (see preflight), the page is only being looked at: no connection.
  try {
    if (window.frameElement && window.frameElement.id === "hotreload-preflight") return;
  } catch (e) { /* a frame of another origin: not ours */ }

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
  // The page path names this tab to the server: sync replays events on
  // the tabs of one page, and the dashboard lists it.
  var url = scheme + home.host + "/ws/hotreload?page=" + encodeURIComponent(location.pathname);
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
  // In-page updates (SPEC.md section 12): asked for on the script tag, or
  // by the server's config in `connected`.
  var morph = !!(script && script.hasAttribute("data-morph"));
  var preflight = !!(script && script.hasAttribute("data-preflight"));
  var pages = null; // [[path prefix, URL prefix], ...] of the served files

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
        if (!(ok || tries >= 10)) return setTimeout(probe, 500);
        if (preflight) tryOut(function () { location.reload(); });
        else location.reload();
      };
      if (typeof fetch !== "function") return go(true);
      // GET, as the reload will: many apps route no HEAD. Read whole and
      // stored in the cache: a server whose Last-Modified counts whole
      // seconds answers the reload's revalidation of a page saved twice
      // in a second with 304, and the tab would show the older page.
      fetch(location.href, { cache: "reload" }).then(
        function (r) {
          if (!r.ok) return go(false);
          return r.arrayBuffer().then(function () { go(true); }, function () { go(true); });
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
    var scripts = paths.filter(function (p) { return isType(p, ["js", "mjs"]); });
    var html = paths.filter(function (p) { return isType(p, ["html", "htm"]); });
    if (msg.action === "css") {
      reloadStylesheets(paths);
    } else if (msg.action === "image") {
      reloadImages(paths);
    } else if (paths.length && scripts.length === paths.length && scripts.every(accepted)) {
      hotSwap(scripts);
    } else if (scripts.length) {
      notify("Reloading: JavaScript file changed");
      setTimeout(reloadWhenReady, JS_RELOAD_DELAY);
    } else if (paths.length && html.length === paths.length && !html.some(showsHere)) {
      log("another page changed (" + html.join(", ") + "); this one stays");
    } else {
      refresh();
    }
  }

  // The file a URL path is served from, as the server maps them: `/` and
  // `/dir/` to their `index.html`, `/a` to `a.html`.
  function filesOfThisPage() {
    var path = location.pathname;
    try { path = decodeURIComponent(path); } catch (e) { /* as it is */ }
    if (/\/$/.test(path)) return [path + "index.html"];
    if (/\.html?$/i.test(path)) return [path];
    return [path + ".html", path + "/index.html"];
  }

  // Is a changed page the one this tab shows? A change the served files do
  // not explain (a template, say) may be any page: yes.
  function showsHere(path) {
    var mapped = (pages || []).filter(function (p) { return path.indexOf(p[0]) === 0; })[0];
    if (!mapped) return true;
    return filesOfThisPage().indexOf(mapped[1] + path.slice(mapped[0].length)) >= 0;
  }

  // The page changed: patched in place when asked for, else reloaded.
  function refresh() {
    if (morph) morphPage();
    else reloadWhenReady();
  }

  // JavaScript modules the page takes new versions of itself:
  // hotReload.accept(path, callback) and hotReload.dispose(path, callback).
  var handlers = [];

  function register(kind, path, callback) {
    if (typeof callback !== "function") throw new TypeError("hotReload." + kind + " needs a function");
    var url = new URL(path, location.href);
    url.search = "";
    url.hash = "";
    handlers.push({ kind: kind, href: url.href, segments: urlSegments(url.pathname), callback: callback });
  }

  // The handlers of `kind` for a changed path: those of the module whose
  // URL ends most like it (as stylesheets are matched).
  function handlersFor(kind, path) {
    var changed = segments(path);
    var mine = handlers.filter(function (h) { return h.kind === kind; });
    var scores = mine.map(function (h) { return sharedSuffix(h.segments, changed); });
    var best = Math.max.apply(null, [0].concat(scores));
    return best === 0 ? [] : mine.filter(function (h, i) { return scores[i] === best; });
  }

  function accepted(path) {
    return handlersFor("accept", path).length > 0;
  }

  // Imports each changed module anew and hands it to its accept callbacks,
  // after its dispose callbacks. Any failure reloads, with the reason.
  function hotSwap(paths) {
    var updates = paths.map(function (path) {
      var accepts = handlersFor("accept", path);
      // In a promise, so that a dispose callback that throws reloads too.
      return Promise.resolve().then(function () {
        handlersFor("dispose", path).forEach(function (h) { h.callback(); });
        return import(bust(accepts[0].href));
      }).then(function (module) {
        accepts.forEach(function (h) { h.callback(module); });
      });
    });
    Promise.all(updates).then(function () {
      log("updated " + paths.join(", ") + " in place");
    }, function (e) {
      notify("Reloading: the new " + paths.join(", ") + " failed: " + (e && e.message || e), "error");
      setTimeout(reloadWhenReady, JS_RELOAD_DELAY);
    });
  }

  // Morphing: the new page patched into <body> node by node. Elements
  // with an id are found wherever they moved; others match the next node
  // of the same kind and tag a little ahead. Matched nodes are kept and
  // brought up to date, so typed text, focus, scroll position and
  // JavaScript state survive; the rest is inserted or removed. A change
  // of scripts, or of anything in <head> but the title, reloads instead:
  // patched in, they would not run. So does any failure, so that no page
  // is left half-patched.
  var OURS = { "hotreload-notification": 1, "hotreload-overlay": 1, "hotreload-tests": 1, "hotreload-preflight": 1 };

  function ours(node) {
    return node.nodeType === 1 && OURS.hasOwnProperty(node.id);
  }

  // Form fields the user has typed in or picked from keep what they hold.
  document.addEventListener("input", function (e) { if (e.target) e.target.hotreloadTouched = true; }, true);
  document.addEventListener("change", function (e) { if (e.target) e.target.hotreloadTouched = true; }, true);

  function morphPage() {
    if (reloading) return;
    fetch(location.href, { cache: "no-store" }).then(function (r) {
      if (!r.ok) throw new Error("the page answered " + r.status);
      return r.text();
    }).then(function (text) {
      var next = new DOMParser().parseFromString(text, "text/html");
      if (!next.body || scriptsOf(document) !== scriptsOf(next) || headOf(document) !== headOf(next)) {
        log("scripts or <head> changed; reloading");
        return reloadWhenReady();
      }
      var focused = document.activeElement;
      var selection = null;
      try {
        if (focused && typeof focused.selectionStart === "number") {
          selection = [focused.selectionStart, focused.selectionEnd, focused.selectionDirection];
        }
      } catch (e) { /* a field without a selection */ }
      // The old elements a patch may take: by id, and the scripts.
      var old = { byId: {}, kept: new Set(), scripts: Array.prototype.slice.call(document.body.querySelectorAll("script")) };
      Array.prototype.forEach.call(document.body.querySelectorAll("[id]"), function (el) {
        if (!ours(el) && !old.byId.hasOwnProperty(el.id)) old.byId[el.id] = el;
      });
      morphAttributes(document.body, next.body);
      morphChildren(old, document.body, next.body);
      if (document.title !== next.title) document.title = next.title;
      // A focused field that moved lost its focus on the way: give it back.
      if (focused && focused !== document.body && document.activeElement !== focused && document.contains(focused)) {
        focused.focus({ preventScroll: true });
        if (selection) {
          try { focused.setSelectionRange(selection[0], selection[1], selection[2]); } catch (e) { /* none */ }
        }
      }
      log("patched the page in place");
    }).catch(function (e) {
      log("could not patch the page (" + (e && e.message || e) + "); reloading");
      reloadWhenReady();
    });
  }

  // Every script of a document, in order: where it comes from, or its text.
  function scriptsOf(doc) {
    return Array.prototype.map.call(doc.querySelectorAll("script"), scriptKey).join("\n");
  }

  function scriptKey(s) {
    return (s.getAttribute("type") || "") + " " + (s.getAttribute("src") || s.textContent);
  }

  // <head> but its title and scripts, URLs made whole and without our
  // cache busters (a swapped stylesheet is the same stylesheet).
  function headOf(doc) {
    return Array.prototype.filter.call(doc.head ? doc.head.children : [], function (el) {
      return el.tagName !== "TITLE" && el.tagName !== "SCRIPT" && !el.hotreloadOriginal;
    }).map(function (el) {
      var copy = el.cloneNode(true);
      var href = copy.getAttribute("href");
      if (href) {
        try {
          var u = new URL(href, location.href);
          u.searchParams.delete("hotreload");
          copy.setAttribute("href", u.href);
        } catch (e) { /* kept as written */ }
      }
      return copy.outerHTML;
    }).join("\n");
  }

  function morphAttributes(from, to) {
    Array.prototype.slice.call(from.attributes).forEach(function (a) {
      if (!to.hasAttribute(a.name)) from.removeAttribute(a.name);
    });
    Array.prototype.forEach.call(to.attributes, function (a) {
      if (from.getAttribute(a.name) !== a.value) from.setAttribute(a.name, a.value);
    });
  }

  function compatible(node, want) {
    if (node.nodeType !== want.nodeType) return false;
    if (node.nodeType !== 1) return true;
    return node.tagName === want.tagName && (node.id || "") === (want.id || "");
  }

  // Brings the children of `from` in line with those of `to`: an element
  // with an id takes the old one of that id from wherever it is; others
  // the next unclaimed node of the same kind a little ahead; the rest is
  // built anew, taking old elements by id inside it too.
  function morphChildren(old, from, to) {
    var cursor = from.firstChild;
    Array.prototype.slice.call(to.childNodes).forEach(function (want) {
      while (cursor && ours(cursor)) cursor = cursor.nextSibling;
      var match = null;
      if (want.nodeType === 1 && want.tagName === "SCRIPT") {
        // The same script, moved: a new script element would run again.
        match = old.scripts.filter(function (s) {
          return !old.kept.has(s) && scriptKey(s) === scriptKey(want) && !s.contains(from);
        })[0] || null;
        if (!match) throw new Error("a script that is not on the page");
      } else if (want.nodeType === 1 && want.id) {
        var named = old.byId[want.id];
        if (named && named.tagName === want.tagName && !old.kept.has(named) && !named.contains(from)) {
          match = named;
        }
      } else {
        for (var n = cursor, k = 0; n && k < 8 && !match; n = n.nextSibling, k++) {
          if (!old.kept.has(n) && !ours(n) && compatible(n, want)) match = n;
        }
      }
      if (!match) {
        match = from.insertBefore(document.importNode(want, false), cursor);
      } else if (match === cursor) {
        cursor = cursor.nextSibling;
      } else {
        from.insertBefore(match, cursor);
      }
      old.kept.add(match);
      morphNode(old, match, want);
    });
    Array.prototype.slice.call(from.childNodes).forEach(function (n) {
      if (!old.kept.has(n) && !ours(n)) from.removeChild(n);
    });
  }

  function morphNode(old, from, to) {
    if (from.nodeType !== 1) {
      if (from.nodeValue !== to.nodeValue) from.nodeValue = to.nodeValue;
      return;
    }
    morphAttributes(from, to);
    var tag = from.tagName;
    if (tag === "INPUT") {
      if (!from.hotreloadTouched) {
        from.value = to.getAttribute("value") || "";
        from.checked = to.hasAttribute("checked");
      }
    } else if (tag === "TEXTAREA") {
      if (from.defaultValue !== to.textContent) from.defaultValue = to.textContent;
      if (!from.hotreloadTouched) from.value = to.textContent;
    } else if (tag === "SELECT") {
      var picked = from.hotreloadTouched ? from.value : null;
      morphChildren(old, from, to);
      if (picked !== null) from.value = picked;
    } else {
      morphChildren(old, from, to);
    }
  }

  // Preflight: before reloading, the new page is written into a hidden
  // frame of this origin, at this URL. Errors it throws, or promises it
  // leaves rejected, within a second of its `load` keep this tab as it is
  // and show them; the next change tries again. A page that never loads
  // (5 s) reloads as usual. The page is written with document.write, not
  // loaded from a URL, because only then can the listeners be in place
  // before its first script runs: a frame's window changes when it
  // navigates, and document.open drops earlier listeners.
  function tryOut(reload) {
    var old = document.getElementById("hotreload-preflight");
    if (old && old.parentNode) old.parentNode.removeChild(old);
    if (!document.body || typeof fetch !== "function") return reload();
    fetch(location.href, { cache: "no-store" }).then(function (r) {
      return r.ok ? r.text() : null;
    }).then(function (html) {
      if (html === null) return reload();
      var frame = document.createElement("iframe");
      frame.id = "hotreload-preflight";
      frame.setAttribute("aria-hidden", "true");
      frame.tabIndex = -1;
      frame.style.cssText = "position:fixed !important;left:-10000px !important;top:0 !important;" +
        "width:1024px !important;height:768px !important;border:0 !important;visibility:hidden !important;";
      document.body.appendChild(frame);
      var errors = [];
      var done = false;
      var never;
      var finish = function () {
        if (done) return;
        done = true;
        clearTimeout(never);
        if (frame.parentNode) frame.parentNode.removeChild(frame);
        if (!errors.length) return reload();
        reloading = false;
        log("the new page throws; this one stays: " + errors.join("; "));
        panel("hotreload-overlay", "The new page throws, so this tab stays as it was", errors.join("\n"), true);
      };
      never = setTimeout(function () { errors = []; finish(); }, 5000);
      var doc = frame.contentDocument;
      doc.open();
      var win = frame.contentWindow;
      win.addEventListener("error", function (e) {
        var where = e.filename ? " (" + e.filename + ":" + e.lineno + ")" : "";
        errors.push((e.message || "an error") + where);
      });
      win.addEventListener("unhandledrejection", function (e) {
        var why = e.reason && e.reason.message ? e.reason.message : String(e.reason);
        errors.push("Unhandled promise rejection: " + why);
      });
      win.addEventListener("load", function () {
        clearTimeout(never);
        setTimeout(finish, 1000);
      });
      doc.write(html);
      doc.close();
    }).catch(function () { reload(); });
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

  // Sync (SPEC.md section 13): what the user does in this tab is replayed
  // on every other tab showing the same page. No echoes: the server never
  // sends an event back to its sender, and this tab never sends what it
  // replays. Replayed clicks and typing are synthetic (isTrusted false)
  // or happen while `replaying` is set; a replayed scroll is known by
  // where it lands; a navigation that a click, a submit or a replay
  // caused is stamped in sessionStorage, so the next page does not
  // announce it again.
  var syncOn = false;
  var myId = null; // this tab's id on the server, from `connected`
  var replaying = false;
  var announced = false;
  var SYNC_URL = home.protocol + "//" + home.host + "/api/v1/hotreload/sync";
  var SCROLL_EVERY = 50; // ms: at most 20 scroll events a second per scroller
  var PAGE_KEY = "hotreload-sync-page"; // sessionStorage: the page shown before this one
  var ACTED_KEY = "hotreload-sync-acted"; // sessionStorage: when a synced link, submit or nav went out
  var scrollTimers = {};
  var landed = {}; // scroller key -> [left, top, when] a replay scrolled to

  function store(key, value) {
    try {
      if (value === undefined) return window.sessionStorage.getItem(key);
      if (value === null) window.sessionStorage.removeItem(key);
      else window.sessionStorage.setItem(key, value);
    } catch (e) { /* storage off: navigation is not followed */ }
    return null;
  }

  function acted() { store(ACTED_KEY, String(Date.now())); }

  // An element's path: from the nearest ancestor with an id, then each
  // step's tag and index among its siblings of that tag.
  function stepsTo(el) {
    var steps = [];
    while (el && el.nodeType === 1 && el !== document.documentElement) {
      if (el.id) {
        steps.unshift("#" + el.id);
        return steps;
      }
      var index = 0;
      for (var sib = el.previousElementSibling; sib; sib = sib.previousElementSibling) {
        if (sib.tagName === el.tagName) index++;
      }
      steps.unshift(el.tagName.toLowerCase() + ":" + index);
      el = el.parentElement;
    }
    return steps;
  }

  function find(steps) {
    var el = document.documentElement;
    for (var i = 0; i < steps.length && el; i++) {
      var step = steps[i];
      if (step.charAt(0) === "#") {
        el = document.getElementById(step.slice(1));
        continue;
      }
      var at = step.lastIndexOf(":");
      var tag = step.slice(0, at);
      var n = parseInt(step.slice(at + 1), 10);
      var found = null;
      for (var child = el.firstElementChild; child && !found; child = child.nextElementSibling) {
        if (child.tagName.toLowerCase() === tag && n-- === 0) found = child;
      }
      el = found;
    }
    return el;
  }

  function send(event) {
    if (!syncOn || myId === null || replaying) return;
    event.from = myId;
    if (!event.page) event.page = location.pathname;
    try {
      // keepalive: a click that navigates still gets its event out.
      fetch(SYNC_URL, { method: "POST", body: JSON.stringify(event), keepalive: true })
        .catch(function () { /* the server is gone: the socket says so */ });
    } catch (e) { /* no fetch: no sync */ }
  }

  function mine(e) {
    return syncOn && e.isTrusted && !replaying && e.target && e.target.nodeType === 1 && !ours(e.target);
  }

  function scrollerOf(target) {
    var page = document.scrollingElement || document.documentElement;
    if (target === document || target === document.documentElement || target === page) return null;
    return target && target.nodeType === 1 ? target : undefined;
  }

  function scrollBox(el) {
    return el || document.scrollingElement || document.documentElement;
  }

  document.addEventListener("scroll", function (e) {
    if (!syncOn || replaying) return;
    var el = scrollerOf(e.target);
    if (el === undefined || (el && ours(el))) return;
    var key = el ? stepsTo(el).join(">") : "";
    var box = scrollBox(el);
    var was = landed[key];
    delete landed[key];
    if (was && Date.now() - was[2] < 1000 &&
        Math.abs(box.scrollLeft - was[0]) <= 1 && Math.abs(box.scrollTop - was[1]) <= 1) {
      return; // where a replay put it
    }
    if (scrollTimers[key]) return; // the pending send reads the latest position
    scrollTimers[key] = setTimeout(function () {
      delete scrollTimers[key];
      var maxX = box.scrollWidth - box.clientWidth;
      var maxY = box.scrollHeight - box.clientHeight;
      var event = { kind: "scroll",
        x: maxX > 0 ? Math.min(1, box.scrollLeft / maxX) : 0,
        y: maxY > 0 ? Math.min(1, box.scrollTop / maxY) : 0 };
      if (el) event.target = stepsTo(el);
      send(event);
    }, SCROLL_EVERY);
  }, true);

  document.addEventListener("click", function (e) {
    if (!mine(e)) return;
    var el = e.target;
    // Fields say what changed through input and change; a submit button
    // through the form's submit.
    if (el.closest("input, select, textarea, option")) return;
    var button = el.closest("button");
    if (button && button.form && button.type === "submit") return;
    var steps = stepsTo(el);
    if (!steps.length) return;
    if (el.closest("a[href]")) acted(); // the other tabs follow the link themselves
    send({ kind: "click", target: steps });
  }, true);

  document.addEventListener("input", function (e) {
    if (!mine(e)) return;
    var el = e.target;
    var type = String(el.type || "").toLowerCase();
    if (!("value" in el) || el.tagName === "SELECT" || type === "checkbox" || type === "radio") return;
    if (type === "password" || type === "file") return; // never sent anywhere
    send({ kind: "input", target: stepsTo(el), value: String(el.value) });
  }, true);

  document.addEventListener("change", function (e) {
    if (!mine(e)) return;
    var el = e.target;
    var type = String(el.type || "").toLowerCase();
    if (type === "checkbox" || type === "radio") {
      send({ kind: "change", target: stepsTo(el), checked: !!el.checked });
    } else if (el.tagName === "SELECT") {
      send({ kind: "change", target: stepsTo(el), value: String(el.value) });
    }
  }, true);

  document.addEventListener("submit", function (e) {
    if (!mine(e)) return;
    acted();
    send({ kind: "submit", target: stepsTo(e.target) });
  }, true);

  // A navigation nothing else announced (a typed address, a script, back
  // and forward): the tabs still on the page this one left follow it.
  function announceNavigation() {
    if (announced) return;
    announced = true;
    var here = location.pathname + location.search + location.hash;
    var before = store(PAGE_KEY);
    store(PAGE_KEY, location.pathname + "\n" + here);
    var when = parseInt(store(ACTED_KEY) || "0", 10);
    store(ACTED_KEY, null); // it explains one navigation, this one
    var nav = window.performance && performance.getEntriesByType &&
      performance.getEntriesByType("navigation")[0];
    if (!syncOn || !before || Date.now() - when < 5000 || (nav && nav.type === "reload")) return;
    var from = before.split("\n");
    if (from[1] !== here) send({ kind: "nav", page: from[0], url: here });
  }

  function fire(el, type) {
    el.dispatchEvent(new Event(type, { bubbles: true }));
  }

  function replay(ev) {
    if (!syncOn || !ev || ev.page !== location.pathname) return;
    if (ev.kind === "nav") {
      acted();
      location.assign(ev.url);
      return;
    }
    var el = ev.target ? find(ev.target) : null;
    if (ev.target && !el) {
      log("sync: this page has no element at " + ev.target.join(" > "));
      return;
    }
    replaying = true;
    try {
      if (ev.kind === "scroll") {
        var box = scrollBox(el);
        var left = Math.round(ev.x * Math.max(0, box.scrollWidth - box.clientWidth));
        var top = Math.round(ev.y * Math.max(0, box.scrollHeight - box.clientHeight));
        landed[el ? ev.target.join(">") : ""] = [left, top, Date.now()];
        (el || window).scrollTo({ left: left, top: top, behavior: "instant" });
      } else if (ev.kind === "click") {
        if (el.closest("a[href]")) acted();
        el.click();
      } else if (ev.kind === "input") {
        el.value = ev.value;
        fire(el, "input");
      } else if (ev.kind === "change") {
        if (typeof ev.checked === "boolean") el.checked = ev.checked;
        else el.value = ev.value;
        fire(el, "input");
        fire(el, "change");
      } else if (ev.kind === "submit") {
        acted();
        if (el.requestSubmit) el.requestSubmit();
        else el.submit();
      }
    } catch (e) {
      log("sync: could not replay a " + ev.kind + ": " + e.message);
    }
    replaying = false;
  }

  function onMessage(event) {
    var msg;
    try { msg = JSON.parse(event.data); } catch (e) { return; }
    if (livereload) {
      if (msg.command === "hello") {
        connected = true;
        attempts = 0;
      }
      onLiveReload(msg);
    } else if (msg.type === "connected") {
      connected = true;
      attempts = 0;
      myId = typeof msg.id === "number" ? msg.id : null;
      syncOn = !!msg.sync;
      announceNavigation();
      if (msg.morph) morph = true;
      if (msg.preflight) preflight = true;
      pages = msg.pages || null;
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
    } else if (msg.type === "sync_state") {
      syncOn = !!msg.enabled;
    } else if (msg.type === "sync") {
      replay(msg.event);
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
    // Connected once the server has said so (`connected`, or LiveReload's
    // hello), so that status() then knows the server's id and numbering.
    mine.onopen = function () {
      if (mine === socket && livereload) mine.send(LIVERELOAD_HELLO);
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
    accept: function (path, callback) { register("accept", path, callback); },
    dispose: function (path, callback) { register("dispose", path, callback); },
    status: function () {
      return { connected: connected, attempts: attempts, serverId: serverId, seq: seq, url: url,
        protocol: livereload ? "livereload" : "hotreload", id: myId, sync: syncOn };
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
