//! The dashboard (SPEC.md section 13): one page built into the binary at
//! `/hotreload/`, and how it names the tabs it lists.
//!
//! The page (`client/dashboard.html`) loads nothing from elsewhere. It
//! reads the history route once, then follows its own socket
//! (`/ws/hotreload?dashboard=1`): the tabs as they come and go, each new
//! entry of the timeline, and the sync switch.

/// Where the dashboard is served.
pub const DASHBOARD_PATH: &str = "/hotreload/";

/// The dashboard page.
pub const DASHBOARD_HTML: &str = include_str!("../client/dashboard.html");

/// A short name for the browser a `User-Agent` describes, for a person
/// who wants to tell their phone's tab from their laptop's: `Chrome 156
/// (Android)`, `Firefox 133 (Linux)`, `Safari 17 (iPhone)`.
pub(crate) fn browser_name(user_agent: &str) -> String {
    let ua = user_agent;
    // Order matters: Edge and Opera say Chrome too, Chrome says Safari.
    let products = [
        ("Edg/", "Edge"),
        ("OPR/", "Opera"),
        ("Firefox/", "Firefox"),
        ("FxiOS/", "Firefox"),
        ("CriOS/", "Chrome"),
        ("HeadlessChrome/", "Headless Chrome"),
        ("Chrome/", "Chrome"),
        ("Version/", "Safari"),
    ];
    let name = products.iter().find_map(|(token, name)| {
        let at = ua.find(token)? + token.len();
        let major: String = ua[at..].chars().take_while(char::is_ascii_digit).collect();
        Some(if major.is_empty() {
            name.to_string()
        } else {
            format!("{name} {major}")
        })
    });
    let platforms = [
        ("iPhone", "iPhone"),
        ("iPad", "iPad"),
        ("Android", "Android"),
        ("Windows", "Windows"),
        ("Mac OS X", "macOS"),
        ("CrOS", "ChromeOS"),
        ("Linux", "Linux"),
    ];
    let platform = platforms
        .iter()
        .find(|(token, _)| ua.contains(token))
        .map(|(_, name)| *name);
    match (name, platform) {
        (Some(name), Some(platform)) => format!("{name} ({platform})"),
        (Some(name), None) => name,
        (None, _) => {
            // Not a browser we know (a script, curl): its own first word.
            let first: String = ua
                .split_whitespace()
                .next()
                .unwrap_or("")
                .chars()
                .take(40)
                .collect();
            if first.is_empty() {
                "unknown".into()
            } else {
                first
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn browsers_are_named_as_people_call_them() {
        let rows = [
            (
                "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.8078.73 Safari/537.36",
                "Chrome 156 (Linux)",
            ),
            (
                "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0.0.0 Safari/537.36",
                "Headless Chrome 156 (Linux)",
            ),
            (
                "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
                "Chrome 131 (Android)",
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
                "Safari 17 (iPhone)",
            ),
            (
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.5; rv:133.0) Gecko/20100101 Firefox/133.0",
                "Firefox 133 (macOS)",
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
                "Edge 131 (Windows)",
            ),
            ("curl/8.5.0", "curl/8.5.0"),
            ("", "unknown"),
        ];
        for (ua, want) in rows {
            assert_eq!(browser_name(ua), want, "{ua}");
        }
    }
}
