//! Issue 23: axe-core on every page svea serves, at a phone's and a desktop's size. The pages
//! the flows go through are checked where their tests take screenshots (`Chromium::shot` runs
//! axe); these are the ones no flow stops at: both languages of the front page, the sign-in
//! pages of the dashboard and the console, the statement, the privacy page in English and the
//! page of a code that does not exist.
//!
//! Not the API reference (`/api-reference`): it is Swagger UI's markup, vendored, and axe finds
//! serious violations in it (contrast of its method badges and links, a control nested in its
//! operation buttons) that svea cannot fix from outside; it is for developers, and the JSON
//! documents it renders are the contract.

use crate::browser::Chromium;
use crate::harness::*;

#[test]
fn every_page_passes_axe_at_phone_and_desktop_size() {
    let dir = tempfile::tempdir().expect("tmp");
    let n = NodeProc::start(dir.path(), &[]);
    let biz = create_business(&n, "1000.00");
    let web = Chromium::launch("a11y");
    let page = |path: &str, step: &str| {
        web.open(&format!("{}{path}", n.url));
        web.shots(step);
    };
    page("/", "front");
    page("/?lang=en", "front-en");
    page("/privacy?lang=en", "privacy-en");
    page("/business", "dashboard-sign-in");
    page("/business?lang=en", "dashboard-sign-in-en");

    // A code nobody printed: a friendly page (the browser logs its 404 status).
    web.open(&format!("{}/q/no-such-code-anywhere", n.url));
    web.expect_console_error("404");
    web.shots("unknown-code");

    // Signed in with the API key (a till's or a script's way in): the month's statement.
    web.open(&format!("{}/business", n.url));
    web.type_into("#api-key", &biz.key);
    web.submit("#sign-in");
    web.wait_until("the dashboard", "document.querySelector('#feedback-list') !== null");
    page("/business/statement", "statement");

    // The operator console's sign-in page, on the operator listener.
    web.open(&format!("{}/ops", n.operator_url));
    web.shots("console-sign-in");
    web.assert_no_console_errors();
}
