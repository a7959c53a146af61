//! One attacker against one node, every attack issue 13 names, in one run: each is refused, and
//! afterwards each business has paid exactly the rewards of its legitimate customers. (The removed
//! node's certificate needs a cluster: `transport::a_removed_nodes_certificate_is_refused`.)

use std::time::{Duration, Instant};

use serde_json::json;

use crate::harness::*;
use crate::pos::{confirm, paid, register_tills, reward_ore, shopify, zettle, SHOPIFY_KEY, ZETTLE_KEY};

/// The attacker's address, as the trusted proxy in front of the node reports it.
const ATTACKER: &str = "198.51.100.7";
/// Requests the attacker fires at the session endpoint.
const FLOOD: usize = 1000;
/// The per-address bucket of this node.
const BURST: u64 = 200;
const RATE_PER_S: u64 = 5;

/// A customer's step through the proxy from their own address.
fn post_from(n: &NodeProc, ip: &str, path: &str, body: serde_json::Value) -> Resp {
    n.post_with(path, body, &[("x-forwarded-for", ip)])
}

#[test]
fn every_attack_is_refused_and_each_business_pays_exactly_the_legitimate_rewards() {
    let dir = tempfile::tempdir().expect("tmp");
    let (rate, burst) = (RATE_PER_S.to_string(), BURST.to_string());
    let n = NodeProc::start(
        dir.path(),
        &[
            ("abuse.requests_per_second", &rate),
            ("abuse.burst", &burst),
            ("geo.trusted_proxies", "127.0.0.1"),
            ("pos.await_purchase_ms", "1500"),
            ("node.routing", "serve"),
        ],
    );
    let cafe = create_business(&n, "100000.00");
    let shop = create_business(&n, "100000.00");
    register_tills(&n, &shop, &format!("{}/v1/pos/square/webhook", n.url));
    let mut legit_cafe = 0i64;
    let mut legit_shop = 0i64;

    // --- Business data: no key, another business's key, the operator API on the public port.
    for path in [format!("/v1/businesses/{}", cafe.id), format!("/v1/businesses/{}/analytics", cafe.id)] {
        n.get(&path).problem(401, "unauthorized");
        n.get_as(&path, &shop.key).problem(404, "business-not-found");
    }
    n.post_with(&format!("/v1/businesses/{}/keys", cafe.id), json!({}), &[("authorization", &format!("Bearer {}", shop.key))])
        .problem(404, "business-not-found");
    for path in ["/v1/cluster", "/v1/cluster/self"] {
        assert_eq!(n.get(path).status, 404, "{path} on the public port");
        assert_eq!(n.get_with(path, &[("authorization", "Bearer operator-token-guess")]).status, 404);
    }

    // --- A registered organisation number, again.
    let org = n.get_as(&format!("/v1/businesses/{}", cafe.id), &cafe.key).str("org_number");
    let copy = json!({"name": "Kopian", "org_number": org, "locations": [{"name": "x", "lat": 59.3, "lon": 18.0}], "reward_budget_sek": "1.00"});
    n.post("/v1/businesses", copy).problem(409, "org-number-registered");

    // --- 1,000 session opens from one address: 429 after the bucket; Retry-After works.
    let started = Instant::now();
    let (mut served, mut retry_after) = (0u64, None);
    for i in 0..FLOOD {
        let r = post_from(&n, ATTACKER, "/v1/sessions", json!({"qr_token": cafe.token, "device_id": format!("bot-{i}")}));
        if r.status == 429 {
            r.problem(429, "rate-limited");
            retry_after = Some(r.header("retry-after").expect("Retry-After").parse::<u64>().expect("whole seconds"));
        } else {
            assert_eq!(r.status, 201, "{}", r.body);
            served += 1;
        }
    }
    let elapsed = started.elapsed().as_secs() + 1;
    assert!(served <= BURST + RATE_PER_S * elapsed, "{served} of {FLOOD} opens served in {elapsed} s");
    let retry = retry_after.expect("the flood was limited");
    // Others are not limited by the attacker's bucket, and the attacker is let in after waiting.
    assert_eq!(post_from(&n, "203.0.113.20", "/v1/sessions", json!({"qr_token": cafe.token, "device_id": "bystander"})).status, 201);
    std::thread::sleep(Duration::from_secs(retry));
    assert_eq!(post_from(&n, ATTACKER, "/v1/sessions", json!({"qr_token": cafe.token, "device_id": "bot-patient"})).status, 201);

    // --- Self-declared café: one legitimate reward, then the same device again, the same text,
    //     a near-same text: each unpaid, and the answer says why.
    let flow = |device: &str, txn: &str, text: &str| {
        let sid = open_session(&n, &cafe.token, device);
        assert_eq!(purchase(&n, &sid, "1000.00", txn).status, 200);
        let f = feedback(&n, &sid, text);
        assert_eq!((f.status, f.body["state"].as_str()), (200, Some("rewarded")), "{}", f.body);
        f
    };
    let text = distinct_feedback(4);
    legit_cafe += reward_ore(&flow("phone-anna", "K-1", text));
    let again = flow("phone-anna", "K-2", distinct_feedback(5));
    assert_eq!((again.str("reward_sek"), &again.body["withheld"]), ("0.00".into(), &json!("device_daily_limit")));
    let copied = flow("phone-bot-1", "K-3", text);
    assert_eq!((copied.str("reward_sek"), &copied.body["withheld"]), ("0.00".into(), &json!("duplicate_feedback")));
    let (first, rest) = text.split_once(' ').expect("words");
    let near = format!(" {} {} ", first.to_uppercase(), rest.replace(' ', "   "));
    let near = flow("phone-bot-2", "K-4", &near);
    assert_eq!((near.str("reward_sek"), &near.body["withheld"]), ("0.00".into(), &json!("duplicate_feedback")));

    // --- Till-verified shop: one legitimate purchase reported by the till backs one reward.
    let hook = shopify("evt-legit-1", "#5001", "400.00");
    assert_eq!(hook.send(&n).body["status"], "recorded");
    let sid = open_session(&n, &shop.token, "phone-bengt");
    assert_eq!(confirm(&n, &sid, "400.00", "#5001").status, 200);
    legit_shop += reward_ore(&feedback(&n, &sid, distinct_feedback(6)));
    // The same delivery replayed: nothing new; another session claiming that purchase: refused.
    assert_eq!(hook.send(&n).body["status"], "duplicate");
    let thief = open_session(&n, &shop.token, "phone-thief");
    confirm(&n, &thief, "400.00", "#5001").problem(409, "purchase-already-claimed");
    // Forged deliveries: another key, an altered amount. Nothing is recorded.
    zettle("not-the-shops-signing-key-0123456789", "m-forged", 77, 90_000, chrono::Utc::now()).send(&n).problem(401, "invalid-signature");
    let mut altered = shopify("evt-altered", "#5002", "10.00");
    altered.body = altered.body.replace("\"10.00\"", "\"900.00\"");
    altered.send(&n).problem(401, "invalid-signature");
    assert!(!SHOPIFY_KEY.is_empty() && !ZETTLE_KEY.is_empty());
    // A purchase the till never reported (and the forged ones): the confirmation waits, then is
    // refused; no feedback can be paid for it.
    for (i, (amount, receipt)) in [("750.00", "#5999"), ("900.00", "77"), ("900.00", "#5002")].iter().enumerate() {
        let sid = open_session(&n, &shop.token, &format!("phone-liar-{i}"));
        assert_eq!(confirm(&n, &sid, amount, receipt).status, 202);
        eventually(Duration::from_secs(20), "the await window to pass", || {
            (n.get(&format!("/v1/sessions/{sid}")).body["purchase_refused"] == "purchase-not-reported").then_some(())
        });
        confirm(&n, &sid, amount, receipt).problem(409, "purchase-not-reported");
        feedback(&n, &sid, distinct_feedback(7)).problem(409, "purchase-not-confirmed");
    }

    // --- Afterwards: each business paid exactly its legitimate customers' rewards.
    let sek = |ore: i64| svea_node::domain::Ore::from_ore(ore).to_sek_string();
    assert!(legit_cafe > 0 && legit_shop > 0);
    assert_eq!(paid(&n, &cafe), sek(legit_cafe));
    assert_eq!(paid(&n, &shop), sek(legit_shop));
    let a = n.get_as(&format!("/v1/businesses/{}/analytics", cafe.id), &cafe.key);
    assert_eq!(a.body["rewards_paid_sek"], sek(legit_cafe), "{}", a.body);
}

/// The issue 20 attacker's texts through real processes, at four businesses: the public example
/// padded with ~800 characters of random dictionary words, gibberish, the example plus a little
/// noise, shuffled words, a keyboard run, and one text of the attacker's own with small edits at
/// every other business. None earns: each is rejected by its score or withheld as a duplicate
/// (of the published example, or of a text another business paid for today). An honest text
/// still earns, and each business paid exactly its honest customers' rewards.
#[test]
fn padded_examples_gibberish_and_edited_copies_across_businesses_earn_nothing() {
    let dir = tempfile::tempdir().expect("tmp");
    let n = NodeProc::start(dir.path(), &[("abuse.requests_per_second", "1000"), ("abuse.burst", "1000")]);
    let shops: Vec<Biz> = (0..4).map(|_| create_business(&n, "100000.00")).collect();
    let mut device = 0;
    let mut give = |b: &Biz, text: &str| {
        device += 1;
        let sid = open_session(&n, &b.token, &format!("attacker-phone-{device}"));
        assert_eq!(purchase(&n, &sid, "500.00", &format!("A-{device}")).status, 200);
        let f = feedback(&n, &sid, text);
        assert_eq!(f.status, 200, "{}", f.body);
        f
    };
    let unpaid = |f: &Resp, what: &str| {
        assert_eq!(f.str("reward_sek"), "0.00", "{what} earned: {}", f.body);
        let rejected = f.body["state"] == "rejected";
        let duplicate = f.body["state"] == "rewarded" && f.body["withheld"] == "duplicate_feedback";
        assert!(rejected || duplicate, "{what}: {}", f.body);
    };
    let example = svea_node::domain::scoring::PUBLISHED_EXAMPLES[0];
    let random_words = "terroråtala strömsnål uttorka underofficer favoritrosor startnyckel skörda dagstur kassavalv \
        riddarborg flädersaft lässvårighet nischmarknad rovinsekt motsols lättfotad förvärva jätterolig skogsmyra \
        klinch katta papparet vinstchans överbetona odelbar lågpriskedja bryggkaffe ridkunnig avvägande fångare \
        havstulpan sugfot ullmatta ismaskin hemlighålla fjäska dosberoende arttypisk sångpedagog gråtanfall östfront \
        riksanstalt gulaktig verandadörr smutskasta intala härdighet energifråga småkokt klippmålning femkamp \
        koppelträna fura förnöjsamhet gombåge skolgård tvättlina blomkruka fjällstuga ränteläge kvällssol \
        snickarglädje vattenkanna pappersark sommarlov hönsgård tågresa bokhylla nyckelknippa solstol \
        väderkvarn strandäng lingonris bergsluttning kakelugn fönsterbräda sparbössa";
    assert!(random_words.chars().count() >= 750, "{}", random_words.chars().count());
    // The attacker's own text, honest-looking: it earns once, at the first business.
    let own = "Var inne på förmiddagen och köpte bröd och en kaffe. Personalen var trevlig och brödet färskt, \
        men kaffet var ljummet och det var smutsigt vid fönsterbordet. Ni borde torka borden oftare och kolla kaffebryggaren.";
    let mut honest_paid = vec![0i64; shops.len()];
    honest_paid[0] += reward_ore(&give(&shops[0], own));

    unpaid(&give(&shops[0], &format!("{example} {random_words}")), "the padded public example");
    unpaid(&give(&shops[1], &format!("{random_words} {example}")), "the public example after padding");
    unpaid(&give(&shops[1], "qzxv blorpt fnagg kwyzzit drummpel snorfik klibbaz yarrgh plonktu zwibbel fjutt grämsk ".repeat(6).trim()), "gibberish");
    unpaid(&give(&shops[2], &format!("Hej! {} Tack för i dag!", example.replace("ICA Maxi i Lund", "Coop i Malmö"))), "the example plus noise");
    let mut shuffled: Vec<&str> = example.split_whitespace().collect();
    shuffled.reverse();
    shuffled.swap(3, 17);
    unpaid(&give(&shops[2], &shuffled.join(" ")), "the example's words shuffled");
    unpaid(&give(&shops[3], &format!("{own} {}", "asdf qwerty jklö zxcvbn ".repeat(15))), "a keyboard run");
    // The attacker's text with small edits at every other business: withheld as a copy.
    let edits = [
        own.replace("förmiddagen", "eftermiddagen"),
        own.replace("ljummet", "kallt").replace("trevlig", "vänlig"),
        format!("Hej. {} Annars bra!", own.replace("bröd", "bullar")),
    ];
    for (shop, edited) in shops[1..].iter().zip(&edits) {
        let f = give(shop, edited);
        unpaid(&f, "an edited copy");
        assert_eq!(f.body["withheld"], "duplicate_feedback", "{}", f.body);
    }
    // An honest customer still earns at a business the attacker hit.
    honest_paid[3] += reward_ore(&give(&shops[3], distinct_feedback(2)));

    let sek = |ore: i64| svea_node::domain::Ore::from_ore(ore).to_sek_string();
    for (shop, honest) in shops.iter().zip(&honest_paid) {
        assert_eq!(paid(&n, shop), sek(*honest), "business {} paid only its honest customers", shop.id);
    }
}
