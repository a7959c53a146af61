//! A location's QR code and poster (issue 14): the SVG and the PNG decode back to exactly the
//! location's customer URL, on the business's home region; only the business's key gets them;
//! the poster page escapes what the business typed, carries the Swedish line and the code inline,
//! and its stylesheet is served from the binary.

use std::io::Read;
use std::time::Duration;

use serde_json::json;

use crate::harness::*;

/// A business name that would run a script if a page printed it as HTML.
const HOSTILE_NAME: &str = "<script>alert('pwn')</script> Kafé & Co";

/// An answer with its raw bytes (the harness reads bodies as text; a PNG is not).
pub(crate) struct Raw {
    pub(crate) status: u16,
    pub(crate) content_type: String,
    headers: Vec<(String, String)>,
    pub(crate) bytes: Vec<u8>,
}

impl Raw {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub(crate) fn text(&self) -> String {
        String::from_utf8(self.bytes.clone()).expect("utf-8 body")
    }
}

pub(crate) fn get_raw(url: &str, key: Option<&str>) -> Raw {
    let mut req = ureq::AgentBuilder::new().redirects(0).build().get(url).timeout(Duration::from_secs(30));
    if let Some(k) = key {
        req = req.set("authorization", &format!("Bearer {k}"));
    }
    let resp = match req.call() {
        Ok(r) | Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("http transport error: {e}"),
    };
    let headers = resp.headers_names().iter().map(|n| (n.clone(), resp.header(n).unwrap_or("").to_string())).collect();
    let (status, content_type) = (resp.status(), resp.header("content-type").unwrap_or("").to_string());
    let mut bytes = Vec::new();
    resp.into_reader().take(16 << 20).read_to_end(&mut bytes).expect("read body");
    Raw { status, content_type, headers, bytes }
}

/// The text of the one QR code in a greyscale picture, read by rqrr (a decoder that shares no
/// code with the encoder the node uses).
fn decode(img: image::GrayImage) -> String {
    let mut prepared = rqrr::PreparedImage::prepare(img);
    let grids = prepared.detect_grids();
    assert_eq!(grids.len(), 1, "expected exactly one QR code in the picture");
    let (_meta, text) = grids[0].decode().expect("the QR code decodes");
    text
}

pub(crate) fn decode_png(bytes: &[u8]) -> String {
    let img = image::load_from_memory_with_format(bytes, image::ImageFormat::Png).expect("a PNG").to_luma8();
    decode(img)
}

/// Rasterises an SVG QR code (a `viewBox`, a light background and one dark `<path>` of
/// rectangles `M x y h w v h H x V y`) at one pixel per unit, then decodes it: the test reads
/// what a browser would draw, not the encoder's own matrix.
fn decode_svg(svg: &str) -> String {
    let attr = |name: &str, from: usize| -> (String, usize) {
        let at = svg[from..].find(&format!("{name}=\"")).map(|i| from + i + name.len() + 2).unwrap_or_else(|| panic!("no {name} in {svg}"));
        let end = at + svg[at..].find('"').expect("closing quote");
        (svg[at..end].to_string(), end)
    };
    let (view_box, _) = attr("viewBox", 0);
    let dims: Vec<u32> = view_box.split_whitespace().map(|v| v.parse().expect("integer viewBox")).collect();
    assert_eq!(dims.len(), 4, "{view_box}");
    assert_eq!((dims[0], dims[1]), (0, 0));
    let (w, h) = (dims[2], dims[3]);
    let path_at = svg.find("<path").expect("a path");
    let (d, _) = attr("d", path_at);
    let mut img = image::GrayImage::from_pixel(w, h, image::Luma([255]));
    // Tokens: a command letter followed by numbers.
    let mut tokens = Vec::new();
    let mut cur = String::new();
    for ch in d.chars() {
        if ch.is_ascii_alphabetic() || ch == ' ' {
            if !cur.is_empty() {
                tokens.push(std::mem::take(&mut cur));
            }
            if ch != ' ' {
                tokens.push(ch.to_string());
            }
        } else {
            cur.push(ch);
        }
    }
    if !cur.is_empty() {
        tokens.push(cur);
    }
    let num = |t: &String| -> u32 { t.parse().unwrap_or_else(|_| panic!("not a number: {t}")) };
    // Each rectangle: M x y h w v h H x V y (11 tokens).
    assert!(!tokens.is_empty() && tokens.len() % 11 == 0, "unexpected path {d}");
    for rect in tokens.chunks(11) {
        let ops: Vec<&str> = [0, 3, 5, 7, 9].iter().map(|i| rect[*i].as_str()).collect();
        assert_eq!(ops, ["M", "h", "v", "H", "V"], "unexpected path in {d}");
        let (x, y, rw, rh) = (num(&rect[1]), num(&rect[2]), num(&rect[4]), num(&rect[6]));
        for yy in y..(y + rh).min(h) {
            for xx in x..(x + rw).min(w) {
                img.put_pixel(xx, yy, image::Luma([0]));
            }
        }
    }
    decode(img)
}

fn location_path(id: &str, lid: &str) -> String {
    format!("/v1/businesses/{id}/locations/{lid}")
}

#[test]
fn qr_codes_and_posters_carry_the_customer_url_and_only_for_the_business() {
    let dir = tempfile::tempdir().expect("tmp");
    let n = NodeProc::start(dir.path(), &[]);
    let created = n.post(
        "/v1/businesses",
        json!({
            "name": HOSTILE_NAME,
            "org_number": next_org_number().to_string(),
            "locations": [
                {"name": "Lilla Torg <b>1</b>", "lat": 55.6046, "lon": 12.9996},
                {"name": "Möllan", "lat": 55.5910, "lon": 13.0106}
            ],
            "reward_budget_sek": "500.00"
        }),
    );
    assert_eq!(created.status, 201, "{}", created.body);
    let (id, key) = (created.str("id"), created.str("api_key"));
    let other = create_business(&n, "500.00");

    // The business's JSON: each location's customer URL and the links to its code and poster.
    let b = n.get_as(&format!("/v1/businesses/{id}"), &key);
    assert_eq!(b.status, 200, "{}", b.body);
    let locations = b.body["locations"].as_array().expect("locations").clone();
    assert_eq!(locations.len(), 2);
    let mut urls = Vec::new();
    for l in &locations {
        let (lid, token) = (l["id"].as_str().expect("id"), l["qr_token"].as_str().expect("token"));
        let url = format!("{}/q/{token}", n.url);
        assert_eq!(l["qr_url"], url.as_str(), "{l}");
        let base = location_path(&id, lid);
        assert_eq!(l["links"], json!({"qr_svg": format!("{base}/qr.svg"), "qr_png": format!("{base}/qr.png"), "poster": format!("{base}/poster")}));

        // The SVG and the PNG each decode to exactly that URL.
        let svg = get_raw(&format!("{}{base}/qr.svg", n.url), Some(&key));
        assert_eq!(svg.status, 200, "{}", svg.text());
        assert_eq!(svg.content_type, "image/svg+xml");
        assert_eq!(decode_svg(&svg.text()), url);
        let png = get_raw(&format!("{}{base}/qr.png", n.url), Some(&key));
        assert_eq!(png.status, 200);
        assert_eq!(png.content_type, "image/png");
        assert!(png.bytes.starts_with(b"\x89PNG\r\n\x1a\n"));
        assert_eq!(decode_png(&png.bytes), url);
        let side = image::load_from_memory(&png.bytes).expect("png").width();
        assert!((250..=1000).contains(&side), "a PNG of {side} px is no sensible size to print");
        urls.push(url);
    }
    assert_ne!(urls[0], urls[1], "each location has its own code");

    // The poster: A6 page in Swedish, the names escaped, the code inline, nothing from outside.
    let lid = locations[0]["id"].as_str().expect("id");
    let poster = get_raw(&format!("{}{}/poster", n.url, location_path(&id, lid)), Some(&key));
    assert_eq!(poster.status, 200, "{}", poster.text());
    assert_eq!(poster.content_type, "text/html; charset=utf-8");
    assert!(poster.header("content-security-policy").is_some_and(|c| c.contains("default-src 'self'")));
    let html = poster.text();
    assert!(html.contains("<html lang=\"sv\">"), "{html}");
    assert!(html.contains("Skanna, berätta vad du tyckte och få cashback"), "{html}");
    assert!(!html.contains("<script"), "the business name reached the page as HTML: {html}");
    assert!(!html.contains("<b>1</b>"), "the location name reached the page as HTML: {html}");
    // In text, `<`, `>` and `&` must be escaped; a quote may stay (maud leaves it).
    let escaped = [
        "&#60;script&#62;alert(&#39;pwn&#39;)&#60;/script&#62; Kafé &#38; Co",
        "&lt;script&gt;alert(&#39;pwn&#39;)&lt;/script&gt; Kafé &amp; Co",
        "&lt;script&gt;alert('pwn')&lt;/script&gt; Kafé &amp; Co",
    ];
    assert!(escaped.iter().any(|e| html.contains(e)), "the business name is not on the poster, escaped: {html}");
    let svg_at = html.find("<svg").expect("the code inline as SVG");
    let svg_end = html[svg_at..].find("</svg>").expect("svg closed") + svg_at + "</svg>".len();
    assert_eq!(decode_svg(&html[svg_at..svg_end]), urls[0], "the poster's code is the location's");
    assert!(!html.contains("style=") && !html.contains("<style") && !html.contains("src="), "{html}");

    // Its stylesheet comes from the node itself: A6, CSS, cached for a year.
    let href_at = html.find("rel=\"stylesheet\" href=\"").expect("a stylesheet") + "rel=\"stylesheet\" href=\"".len();
    let href = &html[href_at..href_at + html[href_at..].find('"').expect("quote")];
    assert!(href.starts_with("/assets/poster.css?v="), "{href}");
    let css = get_raw(&format!("{}{href}", n.url), None);
    assert_eq!(css.status, 200);
    assert_eq!(css.content_type, "text/css; charset=utf-8");
    assert_eq!(css.header("cache-control"), Some("public, max-age=31536000, immutable"));
    assert!(css.text().contains("size: A6"));
    n.get("/assets/nothing.css").problem(404, "no-route");

    // Who gets them: no key 401, another business's key 404, a location it does not have 404.
    for suffix in ["qr.svg", "qr.png", "poster"] {
        let path = format!("{}/{suffix}", location_path(&id, lid));
        let none = n.get(&path);
        none.problem(401, "unauthorized");
        assert_eq!(none.header("www-authenticate"), Some("Bearer realm=\"svea-business\""));
        n.get_as(&path, &other.key).problem(404, "business-not-found");
        // The other business's own location, asked under this business: not this business's.
        let theirs = n.get_as(&format!("/v1/businesses/{}", other.id), &other.key);
        let their_lid = theirs.body["locations"][0]["id"].as_str().expect("id").to_string();
        n.get_as(&format!("{}/{suffix}", location_path(&id, &their_lid)), &key).problem(404, "location-not-found");
        n.get_as(&format!("{}/{suffix}", location_path(&id, "l_nothing")), &key).problem(404, "location-not-found");
    }
}

#[test]
fn a_poster_printed_in_any_region_points_at_the_home_region() {
    let dir = tempfile::tempdir().expect("tmp");
    let c = Cluster3::start(dir.path(), &[]);
    // A Malmö business, created and read through the Stockholm node.
    let biz = create_business(c.by_region("stockholm"), "500.00");
    let want = format!("{}/q/{}", c.by_region("malmo").url, biz.token);
    for region in REGIONS {
        let n = c.by_region(region);
        let b = n.get_as(&format!("/v1/businesses/{}", biz.id), &biz.key);
        assert_eq!(b.status, 200, "{}", b.body);
        assert_eq!(b.body["home_region"], "malmo");
        assert_eq!(b.body["locations"][0]["qr_url"], want.as_str(), "answered by {region}");
        let lid = b.body["locations"][0]["id"].as_str().expect("id");
        let png = get_raw(&format!("{}{}/qr.png", n.url, location_path(&biz.id, lid)), Some(&biz.key));
        assert_eq!(png.status, 200);
        assert_eq!(decode_png(&png.bytes), want, "the code printed from {region}");
    }
}
