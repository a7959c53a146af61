//! Real headless Chromium for the end-to-end tests of the pages, driven over the DevTools
//! protocol (headless_chrome): Debian's `chromium` (installed by [`needs::debian`] when missing),
//! a fresh profile in a temporary directory, a Swedish phone's 360 × 640 viewport, extra request headers
//! (a client address through the trusted loopback proxy), every console message, uncaught
//! exception and browser log entry collected (an error-level one fails the test), full-page
//! screenshots under `target/screenshots/<test>/<nn>-<step>.png`, and every wait bounded by a
//! deadline that polls the DOM. The browser is killed when the [`Chromium`] is dropped.
//!
//! A step of a test reads like a person using the page:
//! ```ignore
//! let web = Chromium::launch("customer_flow");
//! web.headers(&[("x-forwarded-for", "2.58.0.1")]);
//! web.open(&url);
//! web.type_into("#amount", "199,00");
//! web.submit("#purchase button");          // clicks, waits for the next page to load
//! web.wait_text("h2", "Väntar på kassan");  // polls until it shows
//! web.shot("waiting");                     // screenshot, fits 360 px, no console errors so far
//! ```

use std::ffi::OsStr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use headless_chrome::browser::tab::Tab;
use headless_chrome::protocol::cdp::types::{Event, Method};
use headless_chrome::protocol::cdp::{Emulation, Input, Page};
use headless_chrome::{Browser, LaunchOptions};
use serde_json::{json, Value};

use crate::harness::{eventually, free_port};
use crate::needs;

/// The phone the pages are made for (issue 14): CSS pixels.
pub const VIEWPORT: (u32, u32) = (360, 640);
/// The desktop every new page is also looked at on (issue 23): CSS pixels.
pub const DESKTOP: (u32, u32) = (1280, 900);
/// axe-core, the accessibility engine run on every page a test takes a screenshot of (issue 23):
/// pinned, from the npm registry.
const AXE_CORE: &str = "axe-core@4.14.1";
/// Most Tab presses [`Chromium::tab_to`] tries before it says an element cannot be reached.
const TAB_PRESSES_MAX: usize = 80;
/// What axe reports that fails a test: its two highest impacts.
const AXE_FAILING_IMPACTS: [&str; 2] = ["serious", "critical"];
/// Device pixels per CSS pixel of the screenshots (a common phone's; the PNGs are 720 × …).
const DEVICE_SCALE: f64 = 2.0;
/// The phone's language and time zone.
const PHONE_LOCALE: &str = "sv-SE";
const PHONE_TIMEZONE: &str = "Europe/Stockholm";
/// How long one step (a page load, an element showing up) may take.
pub const STEP_DEADLINE: Duration = Duration::from_secs(30);
/// How long the protocol connection may stay quiet (a test may wait on the cluster a while).
const IDLE_DEADLINE: Duration = Duration::from_secs(300);

/// What the page said in its console, its uncaught exceptions and the browser's own log.
#[derive(Default)]
struct Console {
    /// Every entry, as `level: text` (shown when a test fails).
    all: Vec<String>,
    /// Error-level entries and exceptions: any one fails the test.
    errors: Vec<String>,
}

/// One headless Chromium with one tab, for one test.
pub struct Chromium {
    tab: Arc<Tab>,
    pid: Option<u32>,
    console: Arc<Mutex<Console>>,
    shots: PathBuf,
    taken: AtomicU32,
    /// The viewport's width now, CSS pixels (the phone's until [`Chromium::set_viewport`] or
    /// [`Chromium::shots`] changes it).
    width: AtomicU32,
    // Dropped after `Drop::drop` has killed the process: reaps it and removes the profile.
    _browser: Browser,
}

impl Chromium {
    /// Starts Chromium for the test `test` (its screenshots go to `target/screenshots/<test>/`,
    /// emptied first) at the phone viewport, with the console collected from the first page on.
    pub fn launch(test: &str) -> Chromium {
        let path = needs::debian("chromium", "chromium");
        let root = unsafe { libc::geteuid() } == 0;
        let args: Vec<&OsStr> = ["--hide-scrollbars", "--mute-audio", "--no-proxy-server", "--lang=sv-SE"].iter().map(OsStr::new).collect();
        let options = LaunchOptions::default_builder()
            .path(Some(path))
            .headless(true)
            // Chromium's sandbox refuses to run as root (the CI machine's user).
            .sandbox(!root)
            .window_size(Some(VIEWPORT))
            // A port of the tests' own range, not one another test's node may be handed.
            .port(Some(free_port()))
            .idle_browser_timeout(IDLE_DEADLINE)
            .args(args)
            .build()
            .expect("launch options");
        // `user_data_dir` is left unset: headless_chrome makes a fresh profile in a temporary
        // directory and removes it when the browser goes.
        let browser = Browser::new(options).unwrap_or_else(|e| panic!("starting {test}'s chromium: {e:#}"));
        let pid = browser.get_process_id();
        let tab = browser.new_tab().expect("a tab");
        tab.set_default_timeout(STEP_DEADLINE);
        let console = Arc::new(Mutex::new(Console::default()));
        let sink = Arc::clone(&console);
        tab.add_event_listener(Arc::new(move |event: &Event| {
            if let Some((error, line)) = console_line(event) {
                let mut c = sink.lock().unwrap_or_else(|e| e.into_inner());
                if error {
                    c.errors.push(line.clone());
                }
                c.all.push(line);
            }
        }))
        .expect("console listener");
        tab.enable_runtime().expect("Runtime.enable");
        tab.enable_log().expect("Log.enable");
        call(&tab, "Emulation.setDeviceMetricsOverride", json!({
            "width": VIEWPORT.0, "height": VIEWPORT.1, "deviceScaleFactor": DEVICE_SCALE, "mobile": true
        }), |v| serde_json::from_value::<Emulation::SetDeviceMetricsOverride>(v));
        call(&tab, "Emulation.setTouchEmulationEnabled", json!({"enabled": true, "maxTouchPoints": 5}), |v| {
            serde_json::from_value::<Emulation::SetTouchEmulationEnabled>(v)
        });
        // A Swedish phone: dates and numbers in forms as a customer here sees them.
        call(&tab, "Emulation.setLocaleOverride", json!({"locale": PHONE_LOCALE}), |v| serde_json::from_value::<Emulation::SetLocaleOverride>(v));
        call(&tab, "Emulation.setTimezoneOverride", json!({"timezoneId": PHONE_TIMEZONE}), |v| {
            serde_json::from_value::<Emulation::SetTimezoneOverride>(v)
        });
        let shots = needs::target_dir().join("screenshots").join(test);
        let _ = std::fs::remove_dir_all(&shots);
        std::fs::create_dir_all(&shots).expect("screenshot folder");
        Chromium { tab, width: AtomicU32::new(VIEWPORT.0), pid, console, shots, taken: AtomicU32::new(0), _browser: browser }
    }

    /// Sets the screen to `width` x `height` CSS pixels, a phone's (`mobile`, touch) or a
    /// desktop's; [`Chromium::shot`] checks the page fits that width from now on.
    pub fn set_viewport(&self, width: u32, height: u32, mobile: bool) {
        self.set_screen((width, height), mobile);
    }

    /// Sends these headers with every request from now on (page loads, redirects, forms, assets).
    pub fn headers(&self, headers: &[(&str, &str)]) {
        self.tab.set_extra_http_headers(headers.iter().copied().collect()).expect("Network.setExtraHTTPHeaders");
    }

    /// Marks the page shown now, so that [`Chromium::wait_loaded`] can tell the next one from it.
    fn mark_stale(&self) {
        self.eval("(window.__sveaStale = true, true)");
    }

    /// Waits until a new document (not the one marked stale) has loaded completely.
    pub fn wait_loaded(&self, what: &str) {
        eventually(STEP_DEADLINE, format_args!("{what}: a new page loaded"), || {
            let v = self.try_eval("[location.href, document.readyState, window.__sveaStale === true]").unwrap_or(Value::Null);
            (v[1] == "complete" && v[2] == false && v[0] != "about:blank").then_some(()).ok_or(v.to_string())
        });
    }

    /// Goes to `url` as if typed (or scanned) and waits for the page, redirects followed.
    pub fn open(&self, url: &str) {
        self.mark_stale();
        let r = self.tab.call_method(Page::Navigate {
            url: url.to_string(),
            referrer: None,
            transition_Type: None,
            frame_id: None,
            referrer_policy: None,
        });
        match r {
            Ok(n) => assert!(n.error_text.is_none(), "opening {url}: {:?}", n.error_text),
            Err(e) => panic!("opening {url}: {e:#}"),
        }
        self.wait_loaded(url);
    }

    /// Reloads the page, as a customer pulling down on it.
    pub fn reload(&self) {
        self.mark_stale();
        self.tab.reload(false, None).expect("Page.reload");
        self.wait_loaded("reload");
    }

    /// The address the tab shows now.
    pub fn url(&self) -> String {
        self.eval("location.href").as_str().expect("href").to_string()
    }

    /// Runs a JavaScript expression in the page and returns its value as JSON; `None` while the
    /// page cannot answer (between two documents) or when the expression throws.
    pub fn try_eval(&self, expr: &str) -> Option<Value> {
        let wrapped = format!("JSON.stringify((() => {{ try {{ return {{ ok: ({expr}) }}; }} catch (e) {{ return {{ err: String(e) }}; }} }})())");
        let r = self.tab.evaluate(&wrapped, false).ok()?;
        let text = r.value?.as_str()?.to_string();
        let v: Value = serde_json::from_str(&text).ok()?;
        v.get("ok").cloned()
    }

    /// [`Chromium::try_eval`] that must answer.
    #[track_caller]
    pub fn eval(&self, expr: &str) -> Value {
        self.try_eval(expr).unwrap_or_else(|| panic!("evaluating {expr} in {}", self.tab.get_url()))
    }

    /// Waits until `expr` (JavaScript) is truthy and returns its value.
    #[track_caller]
    pub fn wait_until(&self, what: &str, expr: &str) -> Value {
        self.wait_until_within(STEP_DEADLINE, what, expr)
    }

    /// [`Chromium::wait_until`] with its own deadline (a bound the test asserts, such as a
    /// region shown down within `failover_after` plus one refresh).
    #[track_caller]
    pub fn wait_until_within(&self, within: Duration, what: &str, expr: &str) -> Value {
        eventually(within, what, || match self.try_eval(expr) {
            Some(v) if !matches!(v, Value::Null | Value::Bool(false)) && v != "" && v != 0 => Ok(v),
            other => Err(format!("{other:?}")),
        })
    }

    /// The text of the first element `selector` matches, once there is one.
    #[track_caller]
    pub fn text(&self, selector: &str) -> String {
        let js = format!("document.querySelector({}) && document.querySelector({0}).textContent.trim()", js_str(selector));
        self.wait_until(&format!("an element {selector}"), &js).as_str().expect("text").to_string()
    }

    /// Waits until the element `selector` shows text containing `want`.
    #[track_caller]
    pub fn wait_text(&self, selector: &str, want: &str) {
        let js = format!(
            "Array.from(document.querySelectorAll({})).some(e => e.offsetParent !== null && e.textContent.includes({}))",
            js_str(selector),
            js_str(want)
        );
        eventually(STEP_DEADLINE, format_args!("{selector} showing {want:?}"), || {
            (self.try_eval(&js) == Some(Value::Bool(true))).then_some(()).ok_or_else(|| self.visible_text())
        });
    }

    /// Whether an element `selector` is on the page now (no waiting).
    pub fn exists(&self, selector: &str) -> bool {
        self.try_eval(&format!("document.querySelector({}) !== null", js_str(selector))) == Some(Value::Bool(true))
    }

    /// The page's text as a reader sees it (for failure messages).
    pub fn visible_text(&self) -> String {
        self.try_eval("document.body ? document.body.innerText : ''").and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
    }

    /// Focuses the field `selector` and types `text` into it (as an input method commits text:
    /// the field's `input` events fire, so the page's scripts see it).
    #[track_caller]
    pub fn type_into(&self, selector: &str, text: &str) {
        self.wait_until(&format!("a field {selector}"), &format!("document.querySelector({}) !== null", js_str(selector)));
        self.tab.find_element(selector).and_then(|e| e.focus().map(|_| ())).unwrap_or_else(|e| panic!("focusing {selector}: {e:#}"));
        self.tab.call_method(Input::InsertText { text: text.to_string() }).unwrap_or_else(|e| panic!("typing into {selector}: {e:#}"));
    }

    /// Empties the field `selector` (select all, delete), firing its `input` event.
    pub fn clear(&self, selector: &str) {
        self.eval(&format!(
            "(f => (f.value = '', f.dispatchEvent(new Event('input', {{ bubbles: true }})), true))(document.querySelector({}))",
            js_str(selector)
        ));
    }

    /// Clicks the element `selector` with the mouse (scrolled into view first).
    #[track_caller]
    pub fn click(&self, selector: &str) {
        let el = self.tab.wait_for_element(selector).unwrap_or_else(|e| panic!("no {selector} to click: {e:#}\n{}", self.visible_text()));
        el.click().unwrap_or_else(|e| panic!("clicking {selector}: {e:#}"));
    }

    /// Clicks `selector` (a submit button, a link) and waits for the page it leads to.
    #[track_caller]
    pub fn submit(&self, selector: &str) {
        self.mark_stale();
        self.click(selector);
        self.wait_loaded(&format!("after clicking {selector}"));
    }

    /// Presses `key` (a key name: `Tab`, `Enter`, `Space`) where the focus is, as a keyboard does.
    #[track_caller]
    pub fn press(&self, key: &str) {
        self.tab.press_key(key).unwrap_or_else(|e| panic!("pressing {key} on {}: {e:#}", self.url()));
    }

    /// Presses `key` (`Enter` on a button, say) and waits for the page it leads to.
    #[track_caller]
    pub fn press_and_wait(&self, key: &str) {
        self.mark_stale();
        self.press(key);
        self.wait_loaded(&format!("after pressing {key}"));
    }

    /// Types `text` where the focus is (no element is picked for it: the keyboard's own way).
    #[track_caller]
    pub fn keys(&self, text: &str) {
        self.tab.call_method(Input::InsertText { text: text.to_string() }).unwrap_or_else(|e| panic!("typing on {}: {e:#}", self.url()));
    }

    /// Moves the focus with Tab alone until the element `selector` has it, failing after
    /// [`TAB_PRESSES_MAX`] presses with the elements the focus went through: proof that a
    /// keyboard reaches it, in the page's order.
    #[track_caller]
    pub fn tab_to(&self, selector: &str) {
        let here = format!("document.activeElement === document.querySelector({})", js_str(selector));
        let mut path = Vec::new();
        for _ in 0..TAB_PRESSES_MAX {
            if self.eval(&here) == Value::Bool(true) {
                return;
            }
            self.press("Tab");
            let at = self.eval("(e => e ? e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + (e.name ? '[' + e.name + ']' : '') : 'none')(document.activeElement)");
            path.push(at.as_str().unwrap_or("?").to_string());
        }
        panic!("Tab never reached {selector} on {}; the focus went {}", self.url(), path.join(" > "));
    }

    /// The value of the cookie `name` the browser holds for the page (HttpOnly ones too).
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.tab.get_cookies().expect("cookies").into_iter().find(|c| c.name == name).map(|c| c.value)
    }

    /// Fails when the page is wider than the phone (a sideways scroll bar on a 360 px screen).
    #[track_caller]
    pub fn assert_fits_width(&self) {
        let w = self.eval("document.documentElement.scrollWidth").as_u64().expect("width");
        let screen = self.width.load(Ordering::Relaxed);
        assert!(w <= u64::from(screen), "the page is {w} px wide on a {screen} px screen: {}", self.url());
    }

    /// Shows the page on a `(width, height)` screen: a phone's (touch, device scale 2) or a
    /// desktop's (mouse, scale 1).
    fn set_screen(&self, (width, height): (u32, u32), mobile: bool) {
        call(&self.tab, "Emulation.setDeviceMetricsOverride", json!({
            "width": width, "height": height, "deviceScaleFactor": if mobile { DEVICE_SCALE } else { 1.0 }, "mobile": mobile
        }), |v| serde_json::from_value::<Emulation::SetDeviceMetricsOverride>(v));
        call(&self.tab, "Emulation.setTouchEmulationEnabled", json!({"enabled": mobile, "maxTouchPoints": 5}), |v| {
            serde_json::from_value::<Emulation::SetTouchEmulationEnabled>(v)
        });
        self.width.store(width, Ordering::Relaxed);
    }

    /// Screenshots of the page as it is now on the phone ([`VIEWPORT`]) and on a desktop
    /// ([`DESKTOP`]): `<nn>-<step>.png` and `<nn>-<step>-desktop.png`, each checked like
    /// [`Chromium::shot`] (fits, no console errors, accessible); the phone screen is back after.
    #[track_caller]
    pub fn shots(&self, step: &str) {
        self.shot(step);
        self.set_screen(DESKTOP, false);
        self.shot(&format!("{step}-desktop"));
        self.set_screen(VIEWPORT, true);
    }

    /// Runs axe-core on the page as it is now and fails the test on any serious or critical
    /// violation (missing labels and names, contrast below WCAG AA, ARIA misuse, ...), naming
    /// each with the elements it found.
    #[track_caller]
    pub fn assert_accessible(&self) {
        static AXE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        let source = AXE.get_or_init(|| {
            let dir = crate::needs::npm(AXE_CORE);
            std::fs::read_to_string(dir.join("axe.min.js")).expect("axe.min.js in the axe-core package")
        });
        if self.try_eval("typeof window.axe === 'object'") != Some(Value::Bool(true)) {
            self.tab.evaluate(source, false).expect("axe-core injected");
        }
        let impacts = serde_json::to_string(&AXE_FAILING_IMPACTS).expect("json");
        let run = format!(
            "axe.run(document, {{ resultTypes: ['violations'] }}).then(r => JSON.stringify(r.violations
                .filter(v => {impacts}.includes(v.impact))
                .map(v => ({{ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 5).map(n => n.target.join(' ') + ': ' + n.failureSummary) }}))))"
        );
        let r = self.tab.evaluate(&run, true).unwrap_or_else(|e| panic!("axe.run on {}: {e:#}", self.url()));
        let text = r.value.as_ref().and_then(Value::as_str).unwrap_or_else(|| panic!("axe.run answered {r:?} on {}", self.url())).to_string();
        let violations: Value = serde_json::from_str(&text).expect("axe's answer");
        assert_eq!(violations.as_array().map(Vec::len), Some(0), "accessibility violations on {} ({} px screen): {violations:#}", self.url(), self.width.load(Ordering::Relaxed));
    }

    /// Saves a screenshot of the whole page as `<nn>-<step>.png`, after checking that it fits
    /// the screen's width, that nothing went wrong in the console so far and that axe-core finds
    /// no serious or critical accessibility violation; returns its path.
    #[track_caller]
    pub fn shot(&self, step: &str) -> PathBuf {
        self.assert_fits_width();
        self.assert_no_console_errors();
        self.assert_accessible();
        let size = self.eval("[document.documentElement.scrollWidth, document.documentElement.scrollHeight]");
        let screen_h = if self.width.load(Ordering::Relaxed) == VIEWPORT.0 { VIEWPORT.1 } else { DESKTOP.1 };
        let (w, h) = (size[0].as_f64().expect("w"), size[1].as_f64().expect("h").max(f64::from(screen_h)));
        let png = self
            .tab
            .call_method(Page::CaptureScreenshot {
                format: Some(Page::CaptureScreenshotFormatOption::Png),
                quality: None,
                clip: Some(Page::Viewport { x: 0.0, y: 0.0, width: w, height: h, scale: 1.0 }),
                from_surface: Some(true),
                capture_beyond_viewport: Some(true),
                optimize_for_speed: None,
            })
            .expect("Page.captureScreenshot")
            .data;
        use base64::Engine as _;
        let bytes = base64::engine::general_purpose::STANDARD.decode(png).expect("base64 png");
        let n = self.taken.fetch_add(1, Ordering::Relaxed) + 1;
        let path = self.shots.join(format!("{n:02}-{step}.png"));
        std::fs::write(&path, bytes).expect("write screenshot");
        path
    }

    /// Takes back the console errors containing `what`, which the test expects (the browser logs
    /// a page answered 410 as an error, say); fails when there is none.
    #[track_caller]
    pub fn expect_console_error(&self, what: &str) {
        let mut c = self.console.lock().unwrap_or_else(|e| e.into_inner());
        let before = c.errors.len();
        c.errors.retain(|e| !e.contains(what));
        assert!(c.errors.len() < before, "expected a console error with {what:?}, got {:#?}", c.errors);
    }

    /// Fails the test if the page logged an error, threw, or the browser logged an error.
    #[track_caller]
    pub fn assert_no_console_errors(&self) {
        let c = self.console.lock().unwrap_or_else(|e| e.into_inner());
        assert!(c.errors.is_empty(), "console errors on {}: {:#?}\nwhole console: {:#?}", self.tab.get_url(), c.errors, c.all);
    }
}

impl Drop for Chromium {
    fn drop(&mut self) {
        // Killed here, before the Browser field is dropped (which reaps the process), so the pid
        // is still ours. A test that ends early without a panic still gets its console checked.
        if let Some(pid) = self.pid {
            // SAFETY: kill(2) on our own, not yet reaped, child.
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
        }
        if !std::thread::panicking() {
            self.assert_no_console_errors();
        }
    }
}

/// A console line from a protocol event: (error level?, `level: text`).
fn console_line(event: &Event) -> Option<(bool, String)> {
    match event {
        Event::RuntimeConsoleAPICalled(e) => {
            let kind = serde_json::to_value(&e.params.Type).ok()?.as_str()?.to_string();
            let text = e.params.args.iter().map(|a| a.value.as_ref().map(Value::to_string).or_else(|| a.description.clone()).unwrap_or_default()).collect::<Vec<_>>().join(" ");
            Some((matches!(kind.as_str(), "error" | "assert"), format!("console.{kind}: {text}")))
        }
        Event::RuntimeExceptionThrown(e) => {
            let d = &e.params.exception_details;
            let what = d.exception.as_ref().and_then(|x| x.description.clone()).unwrap_or_else(|| d.text.clone());
            Some((true, format!("uncaught exception at {}:{}: {what}", d.url.clone().unwrap_or_default(), d.line_number)))
        }
        Event::LogEntryAdded(e) => {
            let level = serde_json::to_value(&e.params.entry.level).ok()?.as_str()?.to_string();
            Some((level == "error", format!("log.{level}: {} {}", e.params.entry.text, e.params.entry.url.clone().unwrap_or_default())))
        }
        _ => None,
    }
}

/// Calls a protocol method whose parameters are given as JSON (built through the crate's
/// generated type, so a misspelt field fails here rather than in the browser).
fn call<M: Method + serde::Serialize + std::fmt::Debug, E: std::fmt::Display>(tab: &Tab, name: &str, params: Value, build: impl FnOnce(Value) -> Result<M, E>) {
    let m = build(params).unwrap_or_else(|e| panic!("{name} parameters: {e}"));
    tab.call_method(m).unwrap_or_else(|e| panic!("{name}: {e:#}"));
}

/// A JavaScript string literal of `s`.
fn js_str(s: &str) -> String {
    Value::String(s.to_string()).to_string()
}

#[test]
fn error_level_console_entries_and_exceptions_fail_a_page_and_others_do_not() {
    let event = |method: &str, params: Value| -> Event {
        serde_json::from_value(json!({"method": method, "params": params})).unwrap_or_else(|e| panic!("{method}: {e}"))
    };
    let console = |kind: &str| {
        event("Runtime.consoleAPICalled", json!({"type": kind, "args": [{"type": "string", "value": "hej"}], "executionContextId": 1, "timestamp": 0.0}))
    };
    let log = |level: &str| {
        event("Log.entryAdded", json!({"entry": {"source": "network", "level": level, "text": "Failed to load resource", "timestamp": 0.0, "url": "http://x/favicon.ico"}}))
    };
    let thrown = event(
        "Runtime.exceptionThrown",
        json!({"timestamp": 0.0, "exceptionDetails": {"exceptionId": 1, "text": "Uncaught", "lineNumber": 3, "columnNumber": 1, "url": "http://x/a.js"}}),
    );
    assert_eq!(console_line(&console("error")), Some((true, "console.error: \"hej\"".to_string())));
    assert_eq!(console_line(&console("log")).map(|l| l.0), Some(false));
    assert_eq!(console_line(&console("warning")).map(|l| l.0), Some(false));
    assert_eq!(console_line(&log("error")), Some((true, "log.error: Failed to load resource http://x/favicon.ico".to_string())));
    assert_eq!(console_line(&log("warning")).map(|l| l.0), Some(false));
    assert_eq!(console_line(&thrown), Some((true, "uncaught exception at http://x/a.js:3: Uncaught".to_string())));
    assert_eq!(js_str("a'b\"c"), "\"a'b\\\"c\"");
}
