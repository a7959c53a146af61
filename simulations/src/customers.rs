//! What the tools' customers send and what it costs: review texts, purchase amounts, the budget of
//! the businesses they visit, the Raft writes each customer step commits, and the pool of client
//! threads the multi-process tools run them on. Shared by `bench-node`, `bench-cluster`, `chaos`,
//! `failover` and the simulation's workload, so every tool describes the same customer.

use std::ops::RangeInclusive;
use std::sync::Arc;
use std::thread::JoinHandle;

use anyhow::{anyhow, Context as _};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

/// Reviews as customers write them: 100..=200 characters of Swedish, of mixed quality, so the
/// scorer and the reward tiers see realistic input (the API accepts 20 to 5000 characters). The
/// first is of reward-tier quality.
pub const REVIEWS: [&str; 8] = [
    "Kaffet var gott och kanelbullen färsk, men kön vid kassan var lång runt 12:15. Ni borde öppna en kassa till vid lunch.",
    "Trevlig personal och mysig miljö. Tyvärr var toaletten smutsig och tvålen slut. Nästa gång vore det bra om någon kollade oftare.",
    "Beställde en latte för 45 kr som var ljummen när jag fick den. Baristan var vänlig och gjorde en ny direkt, det uppskattades.",
    "Snabb service och prisvärd lunch, dagens rätt för 119 kr. Salladsbordet kunde vara fräschare, gurkan såg lite trött ut.",
    "Jättebra frukostbuffé men det var stökigt vid borden efter kl 9. Förslag: fler som plockar undan disk under rusningen.",
    "Maten var god men lite dyr. Servitrisen Sara var hjälpsam och gav bra tips på vin. Parkeringen bakom huset var svår att hitta.",
    "Helt okej besök. Bullarna var goda men kaffet var kallt och personalen verkade stressad. Skulle gärna se fler sittplatser inne.",
    "Hyllan med glutenfritt bröd var tom igen i lördags. Önskar att ni fyllde på oftare, annars är butiken ren och personalen trevlig.",
];
/// Length of every review in [`REVIEWS`], in characters.
pub const REVIEW_CHARS: RangeInclusive<usize> = 100..=200;

/// A review as a new customer writes it: its own text (a business pays a text, or a near copy of
/// it, only once), of mixed quality like [`REVIEWS`]: always a concrete detail and a compliment,
/// usually a complaint and a suggestion.
pub fn review(rng: &mut impl Rng) -> String {
    let complaint = rng.gen_bool(0.7);
    let suggestion = rng.gen_bool(0.7);
    compose_review(rng, complaint, suggestion)
}

/// A review of reward-tier quality (detail, compliment, complaint and suggestion), its own text
/// like [`review`]'s.
pub fn rewarded_review(rng: &mut impl Rng) -> String {
    compose_review(rng, true, true)
}

// Word pools of the composed reviews. Texts written independently share only the short glue
// between the slots, so two reviews are near copies (`abuse.duplicate_containment_percent`) only
// when most of their many slots agree.
const PRODUCTS: [&str; 16] = [
    "latten", "kanelbullen", "dagens lunch", "räksmörgåsen", "cappuccinon", "kardemummabullen", "laxsalladen",
    "pannkakorna", "chokladbollen", "soppan", "vegoburgaren", "glassen", "frukostbuffén", "espresson", "pizzan",
    "morotskakan",
];
const PRAISE: [&str; 12] = [
    "riktigt god", "utmärkt", "fantastisk", "jättebra", "perfekt tillagad", "prisvärd", "härligt färsk", "god och varm",
    "mycket trevlig", "väldigt smakrik", "bra", "superb",
];
const TROUBLES: [&str; 16] = [
    "kön vid kassan", "toaletten", "musiken", "wifi-nätet", "borden på terrassen", "parkeringen", "skylten vid entrén",
    "kortläsaren", "servetterna", "temperaturen inne", "barnstolarna", "menyn på tavlan", "dörren till gården",
    "ventilationen", "belysningen", "diskbänken",
];
const FLAWS: [&str; 10] = [
    "dålig", "smutsig", "alldeles för långsam", "trasig", "tyvärr kaos", "rörig", "för högljudd", "kall", "svår att hitta",
    "sliten",
];
const FIXES: [&str; 14] = [
    "öppna en kassa till", "städa oftare", "sänka volymen", "byta router", "torka av borden", "märka upp platserna",
    "sätta upp en större skylt", "laga kortläsaren", "fylla på servetter", "sänka värmen", "köpa fler barnstolar",
    "skriva tydligare", "smörja gångjärnen", "byta lysrören",
];
const STAFF: [&str; 12] = ["Elin", "Ahmed", "Sara", "Johan", "Maja", "Oskar", "Fatima", "Lars", "Noor", "Erik", "Linnea", "Kalle"];

fn pick<'a>(rng: &mut impl Rng, pool: &[&'a str]) -> &'a str {
    pool[rng.gen_range(0..pool.len())]
}

fn compose_review(rng: &mut impl Rng, complaint: bool, suggestion: bool) -> String {
    let (product, price, praise, staff) = (pick(rng, &PRODUCTS), rng.gen_range(19..=249), pick(rng, &PRAISE), pick(rng, &STAFF));
    // Each sentence in one of several wordings: people do not share a template, and the
    // near-duplicate check (containment of 6-character shingles) would see a shared one.
    let mut text = match rng.gen_range(0..5) {
        0 => format!("{product} för {price} kr var {praise} och {staff} i kassan var vänlig."),
        1 => format!("Jag köpte {product} ({price} kr), {praise}! {staff} hälsade glatt."),
        2 => format!("{staff} serverade {product} som kostade {price} kronor, {praise} tycker jag."),
        3 => format!("Provade {product} idag, {price} kr. Den var {praise}, tack {staff}."),
        _ => format!("Betalade {price} spänn hos {staff} för {product}: {praise}."),
    };
    let capitalised = text.remove(0).to_uppercase().to_string();
    text.insert_str(0, &capitalised);
    if complaint {
        let (trouble, flaw, hour, minute) = (pick(rng, &TROUBLES), pick(rng, &FLAWS), rng.gen_range(8..=21), rng.gen_range(0..60));
        text.push_str(&match rng.gen_range(0..5) {
            0 => format!(" Men {trouble} var {flaw} runt {hour}:{minute:02}."),
            1 => format!(" Tyvärr var {trouble} {flaw} vid {hour}:{minute:02}."),
            2 => format!(" Minus: {trouble}, {flaw} klockan {hour}:{minute:02}."),
            3 => format!(" Kl {hour}:{minute:02} upplevde jag {trouble} som {flaw}."),
            _ => format!(" Däremot {flaw}: {trouble} ({hour}:{minute:02})."),
        });
    }
    if suggestion {
        let (fix, other) = (pick(rng, &FIXES), pick(rng, &PRODUCTS));
        text.push_str(&match rng.gen_range(0..5) {
            0 => format!(" Ni borde {fix}, och gärna erbjuda {other} på helgen."),
            1 => format!(" Förslag: {fix}. Sälj {other} även kvällstid!"),
            2 => format!(" Nästa gång hoppas jag ni hunnit {fix}; {other} vore kul."),
            3 => format!(" Vore bra att {fix}, samt ha {other} på lördagar."),
            _ => format!(" Tips: {fix} och lägg till {other} i menyn."),
        });
    }
    text
}

/// Purchase amounts, 25.00..=650.00 SEK in öre.
pub const PURCHASE_ORE: RangeInclusive<i64> = 2_500..=65_000;

/// The body of `POST /v1/sessions/{id}/purchase` for `amount_ore`, bought just now.
pub fn purchase_body(amount_ore: i64, transaction_id: &str) -> Value {
    json!({
        "amount_sek": format!("{}.{:02}", amount_ore / 100, amount_ore % 100),
        "purchased_at": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "transaction_id": transaction_id,
    })
}

/// Reward budget of each business the HTTP tools create: more than any run pays out (at most
/// 52 SEK a flow).
pub const BUDGET_SEK: &str = "100000000.00";
/// [`BUDGET_SEK`] in öre.
pub const BUDGET_ORE: i64 = 10_000_000_000;

/// Raft entries one successful step commits when the business actor is active and the session
/// actor stays active between steps (node/src/actors/session.rs, business.rs, cell.rs; issue 22):
/// - `open`: the new session, claimed and written with its secondary records in one atomic
///   command (the customer waits for it), and the business's `SessionOpened` report, sent off the
///   customer's path: 2;
/// - `purchase`: the session, with its transaction-id record: 1;
/// - `feedback`: the business's settlement and the settled session in one atomic command: 1
///   (a paid reward's delivery to the wallet follows off the path).
///
/// So the customer waits for 3 commits. A passivated actor adds one claim at its next step, and
/// a lost opening report moves one business write from `open` to `feedback` (the settlement
/// counts it in its own command); `bench-node` measures the applied log index too.
pub const OPEN_WRITES: u64 = 2;
/// See [`OPEN_WRITES`].
pub const PURCHASE_WRITES: u64 = 1;
/// See [`OPEN_WRITES`].
pub const FEEDBACK_WRITES: u64 = 1;
/// Raft entries of one whole customer flow.
pub const FLOW_WRITES: u64 = OPEN_WRITES + PURCHASE_WRITES + FEEDBACK_WRITES;

/// How the reports explain the write counts.
pub fn writes_basis() -> String {
    format!(
        "open {OPEN_WRITES} (claim and session in one command, business report off the path), purchase {PURCHASE_WRITES}, \
         feedback {FEEDBACK_WRITES} (settlement and session in one command)"
    )
}

/// The random source of client `thread` in a run seeded `seed`: distinct per thread, and the
/// same for the same seed and thread.
pub fn client_rng(seed: u64, thread: u64) -> StdRng {
    StdRng::seed_from_u64(seed ^ thread.wrapping_mul(0x9e37_79b9_7f4a_7c15))
}

/// Client threads: each one a phone (or a customer after customer) with its own blocking HTTP
/// client, running until the work it was given decides to stop.
pub struct Clients<T> {
    threads: Vec<JoinHandle<T>>,
}

impl<T: Send + 'static> Clients<T> {
    /// Starts `n` threads named `<name>-<i>`, thread `i` running `work(i)`.
    pub fn spawn<F>(n: u64, name: &str, work: F) -> anyhow::Result<Clients<T>>
    where
        F: Fn(u64) -> T + Send + Sync + 'static,
    {
        let work = Arc::new(work);
        let threads = (0..n)
            .map(|i| {
                let work = Arc::clone(&work);
                std::thread::Builder::new()
                    .name(format!("{name}-{i}"))
                    .spawn(move || work(i))
                    .with_context(|| format!("cannot start client thread {name}-{i}"))
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(Clients { threads })
    }

    /// Waits for every thread (the work bounds how long) and returns what each returned, in order.
    pub fn join(self) -> anyhow::Result<Vec<T>> {
        self.threads
            .into_iter()
            .map(|t| t.join().map_err(|_| anyhow!("a client thread panicked")))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reviews_are_valid_feedback_of_the_intended_length() {
        for text in REVIEWS {
            let chars = text.chars().count();
            assert!(REVIEW_CHARS.contains(&chars), "{chars}: {text}");
            assert!(svea_node::domain::validate_feedback_text(text).is_ok(), "{text}");
        }
    }

    #[test]
    fn composed_reviews_are_valid_mostly_rewarded_and_not_near_copies() {
        use svea_node::domain::{DuplicateRule, Fingerprint, RubricScorer, Scorer, Shingles};
        let a = svea_config::RawConfig::default().abuse;
        let rule = DuplicateRule { containment_percent: a.duplicate_containment_percent, similarity_percent: a.duplicate_similarity_percent };
        let mut rng = client_rng(7, 1);
        let texts: Vec<String> = (0..150).map(|i| if i % 2 == 0 { rewarded_review(&mut rng) } else { review(&mut rng) }).collect();
        for (i, text) in texts.iter().enumerate() {
            assert!(svea_node::domain::validate_feedback_text(text).is_ok(), "{text}");
            if i % 2 == 0 {
                assert!(RubricScorer.score(text).total >= 50, "reward tier: {} {text}", RubricScorer.score(text).total);
            }
        }
        let prints: Vec<Fingerprint> = texts.iter().map(|t| Fingerprint::of(t)).collect();
        let shingles: Vec<Shingles> = texts.iter().map(|t| Shingles::of(t)).collect();
        let mut alike = 0;
        for (i, a) in prints.iter().enumerate() {
            alike += shingles[i + 1..].iter().filter(|b| rule.judges(a, b)).count();
        }
        // Independent customers: near copies are rare accidents, not the rule. The composed texts
        // are short and draw on small word pools, so about one pair in 150 shares half its
        // shingles (the containment check of issue 20 sees more than the whole-text MinHash did):
        // a run's later reviews are withheld as duplicates a little more often, which no
        // invariant depends on.
        let pairs = texts.len() * (texts.len() - 1) / 2;
        assert!(alike * 100 <= pairs, "{alike} near-copy pairs among 150 reviews ({pairs} pairs)");
    }

    #[test]
    fn budget_in_sek_and_ore_agree() {
        assert_eq!(BUDGET_SEK.replace('.', "").parse::<i64>().ok(), Some(BUDGET_ORE));
    }

    #[test]
    fn purchase_amounts_are_written_in_sek() {
        assert_eq!(purchase_body(2_505, "T-1")["amount_sek"], "25.05");
        assert_eq!(purchase_body(65_000, "T-2")["amount_sek"], "650.00");
    }

    #[test]
    fn every_client_thread_runs_and_returns_in_order() {
        let clients = Clients::spawn(4, "test-client", |i| i * 10).expect("spawn");
        assert_eq!(clients.join().expect("join"), vec![0, 10, 20, 30]);
    }
}
