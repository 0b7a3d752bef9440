//! The pages the proxy answers with itself when the backend cannot: what
//! went wrong, what to do, and (for a backend that is down) a page that
//! reloads itself once the backend answers again.

/// Marks an answer the proxy made itself, so its page can tell when the
/// backend answers instead.
pub(crate) const MARK: &str = "X-Hotreload-Proxy";

/// A page of the proxy's own: its status, title, and what to do.
pub(crate) struct Page {
    pub status: u16,
    pub html: String,
}

/// The backend is down or answered nothing usable: 502, and the page asks
/// the same URL again every second, reloading once the backend answers.
pub(crate) fn bad_gateway(backend: &str, what: &str, fix: &str) -> Page {
    Page {
        status: 502,
        html: page(
            "The backend is not answering",
            &format!("hotreload could not get an answer from the backend at {backend}: {what}."),
            fix,
            Some("This page reloads itself as soon as the backend answers."),
        ),
    }
}

/// The backend took longer than `proxy_timeout_ms` to start its answer.
pub(crate) fn gateway_timeout(backend: &str, request: &str, ms: u64) -> Page {
    Page {
        status: 504,
        html: page(
            "The backend is too slow",
            &format!("The backend at {backend} sent nothing for {request} within {ms} ms."),
            "If it is busy (a build, a debugger), try again; if it always takes this long, raise proxy_timeout_ms.",
            None,
        ),
    }
}

/// Text as HTML: never markup, whatever a URL or an error contains.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn page(title: &str, what: &str, fix: &str, retry: Option<&str>) -> String {
    // Asks again without the page's cache; any answer the proxy did not
    // make itself is the backend's, so the page reloads to show it.
    let script = if retry.is_some() {
        format!(
            "<script>setInterval(function () {{ fetch(location.href, {{cache: 'no-store'}}).then(function (r) {{ if (!r.headers.get('{MARK}')) location.reload(); }}, function () {{}}); }}, 1000);</script>"
        )
    } else {
        String::new()
    };
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{title}</title>\
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:40em;margin:3em auto;padding:0 1em;color:#1f2937}}h1{{font-size:1.4em}}p.fix{{background:#f3f4f6;padding:.8em 1em;border-radius:6px}}</style></head>\
<body><h1>{title}</h1><p>{what}</p><p class=\"fix\">{fix}</p>{retry}{script}</body></html>\n",
        title = escape(title),
        what = escape(what),
        fix = escape(fix),
        retry = retry
            .map(|r| format!("<p>{}</p>", escape(r)))
            .unwrap_or_default(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outside_text_is_never_markup() {
        let page = bad_gateway(
            "http://<img src=x onerror=alert(1)>",
            "connection refused",
            "start it",
        );
        assert!(!page.html.contains("<img"), "{}", page.html);
        assert!(page.html.contains("&lt;img src=x onerror=alert(1)&gt;"));
        assert!(page.html.contains("</body>"));
    }
}
