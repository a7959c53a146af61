//! AI scoring as the seeds run it: a real `svea` process with `scoring.backend = "ollama"` against
//! a fake Ollama server on loopback that speaks `/api/generate`. The model's score counts and is
//! shown with source `ollama`; whatever goes wrong with the model (garbage, an error status, a
//! score out of range, an answer after the timeout, no server at all), the rubric scores, the
//! session says `rubric`, and the customer's request ends within the timeout.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use svea_node::domain::{RubricScorer, Scorer};

use crate::harness::*;
use crate::metrics::sample;

/// `scoring.timeout_ms` of the node under test.
const TIMEOUT_MS: u64 = 2000;
/// `scoring.prompt_chars_max` of the node under test: shorter than the texts sent.
const PROMPT_CHARS_MAX: usize = 60;
/// Largest request the fake server reads.
const FAKE_REQUEST_BYTES_MAX: usize = 256 * 1024;

/// How the fake server answers the next requests.
#[derive(Debug, Clone, Copy)]
enum Answer {
    /// `{"score": n}` in Ollama's `response` field.
    Score(i64),
    /// 200 with a body that is not Ollama's JSON.
    Garbage,
    /// 500.
    Status500,
    /// `{"score": n}`, but only after this long.
    Late(Duration),
    /// Stop listening (the next connection is refused).
    Down,
}

/// A request as the fake server received it.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    body: Value,
}

/// A tiny HTTP/1.1 server on 127.0.0.1 that answers `POST /api/generate` as Ollama does.
struct FakeOllama {
    url: String,
    answer: Arc<Mutex<Answer>>,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl FakeOllama {
    fn start() -> FakeOllama {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind fake ollama");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let answer = Arc::new(Mutex::new(Answer::Score(50)));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (a, s) = (answer.clone(), seen.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let answer = *a.lock().expect("lock");
                if let Answer::Down = answer {
                    return; // drops the listener: the port is closed from now on
                }
                let seen = s.clone();
                std::thread::spawn(move || serve(stream, answer, &seen));
            }
        });
        FakeOllama { url, answer, seen }
    }

    fn set(&self, answer: Answer) {
        *self.answer.lock().expect("lock") = answer;
        if let Answer::Down = answer {
            // Wake the accept loop so it sees `Down` and closes the port.
            let _ = TcpStream::connect(self.url.trim_start_matches("http://"));
            let addr = self.url.trim_start_matches("http://").to_string();
            eventually(Duration::from_secs(10), "the fake ollama port closed", || TcpStream::connect(&addr).is_err());
        }
    }

    fn requests(&self) -> Vec<Seen> {
        self.seen.lock().expect("lock").clone()
    }
}

fn serve(stream: TcpStream, answer: Answer, seen: &Mutex<Vec<Seen>>) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone stream"));
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    let mut parts = request_line.split_whitespace();
    let (method, path) = (parts.next().unwrap_or("").to_string(), parts.next().unwrap_or("").to_string());
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        if line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut body = vec![0u8; length.min(FAKE_REQUEST_BYTES_MAX)];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
    seen.lock().expect("lock").push(Seen { method, path, body });
    let generated = |score: i64| {
        serde_json::json!({
            "model": "qwen2:0.5b",
            "created_at": "2026-12-02T08:00:00.000000Z",
            "response": format!("{{\"score\": {score}}}"),
            "done": true,
            "done_reason": "stop",
            "total_duration": 123_456_789,
            "eval_count": 6
        })
        .to_string()
    };
    let (status, body) = match answer {
        Answer::Score(n) => ("200 OK", generated(n)),
        Answer::Garbage => ("200 OK", "<html>the model is warming up</html>".to_string()),
        Answer::Status500 => ("500 Internal Server Error", "{\"error\":\"model runner crashed\"}".to_string()),
        Answer::Late(after) => {
            std::thread::sleep(after);
            ("200 OK", generated(99))
        }
        Answer::Down => return,
    };
    let mut stream = stream;
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

/// One customer: a new session, a purchase, `text` as feedback. The feedback answer and how long
/// it took.
fn customer(n: &NodeProc, token: &str, i: usize, text: &str) -> (Resp, Duration) {
    let sid = open_session(n, token);
    assert_eq!(purchase(n, &sid, "100.00", &format!("SCORING-{i}")).status, 200);
    let started = Instant::now();
    let r = feedback(n, &sid, text);
    (r, started.elapsed())
}

#[test]
fn a_model_scores_feedback_and_the_rubric_takes_over_whenever_it_fails() {
    let fake = FakeOllama::start();
    let dir = tempfile::tempdir().expect("tmp");
    let timeout = TIMEOUT_MS.to_string();
    let chars = PROMPT_CHARS_MAX.to_string();
    let n = NodeProc::start(
        dir.path(),
        &[
            ("scoring.backend", "ollama"),
            ("scoring.ollama_url", &fake.url),
            ("scoring.model", "qwen2:0.5b"),
            ("scoring.timeout_ms", &timeout),
            ("scoring.prompt_chars_max", &chars),
        ],
    );
    let biz = create_business(&n, "100000.00");

    // 1. The model answers 93: that is the score, shown with its source and model; the rubric's
    // breakdown of the same text stays beside it.
    let text = distinct_feedback(0);
    fake.set(Answer::Score(93));
    let (r, _) = customer(&n, &biz.token, 0, text);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["quality_score"], 93, "{}", r.body);
    assert_eq!(r.body["score_source"], "ollama", "{}", r.body);
    assert_eq!(r.body["score_model"], "qwen2:0.5b", "{}", r.body);
    assert_eq!(r.body["score_breakdown"]["total"], RubricScorer.score(text).total, "{}", r.body);
    assert_eq!(r.body["state"], "rewarded", "{}", r.body);
    assert_eq!(r.body["reward_tier"], "high", "93 is in the high tier: {}", r.body);
    let sid = r.str("id");

    // What the fake server was asked: Ollama's generate, not streamed, JSON, temperature 0, the
    // configured model, and the text cut at prompt_chars_max inside the prompt.
    let asked = fake.requests();
    assert_eq!(asked.len(), 1, "{asked:?}");
    let req = &asked[0];
    assert_eq!((req.method.as_str(), req.path.as_str()), ("POST", "/api/generate"));
    assert_eq!(req.body["model"], "qwen2:0.5b");
    assert_eq!(req.body["stream"], false);
    assert_eq!(req.body["format"], "json");
    assert_eq!(req.body["options"]["temperature"], 0);
    let prompt = req.body["prompt"].as_str().expect("prompt");
    let shown: String = text.chars().take(PROMPT_CHARS_MAX).collect();
    let one_more: String = text.chars().take(PROMPT_CHARS_MAX + 1).collect();
    assert!(text.chars().count() > PROMPT_CHARS_MAX);
    assert!(prompt.contains(&shown), "the text is in the prompt: {prompt}");
    assert!(!prompt.contains(&one_more), "cut at {PROMPT_CHARS_MAX} characters: {prompt}");
    assert!(prompt.len() < 2000, "the prompt is bounded: {} bytes", prompt.len());

    // A retry of the same feedback is not scored differently: the session keeps its first score
    // (and, found rewarded already, is not sent to the model again).
    fake.set(Answer::Score(5));
    let again = feedback(&n, &sid, text);
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!((again.body["quality_score"].clone(), again.body["score_source"].clone()), (93.into(), "ollama".into()));
    let read = n.get(&format!("/v1/sessions/{sid}"));
    assert_eq!((read.body["quality_score"].clone(), read.body["state"].clone()), (93.into(), "rewarded".into()));

    // 2. The model's score decides the reward: 5 is below every tier.
    let (r, _) = customer(&n, &biz.token, 1, distinct_feedback(1));
    assert_eq!((r.body["quality_score"].clone(), r.body["score_source"].clone()), (5.into(), "ollama".into()), "{}", r.body);
    assert_eq!(r.body["state"], "rejected", "{}", r.body);

    // 3. Every failure: the rubric's score, source rubric, no model name, and the customer's
    // request ends within the timeout (plus the node's own work).
    let limit = Duration::from_millis(TIMEOUT_MS) + Duration::from_secs(3);
    let failures = [
        (Answer::Garbage, "unparsable"),
        (Answer::Status500, "status"),
        (Answer::Score(150), "out_of_range"),
        (Answer::Score(-3), "out_of_range"),
        (Answer::Late(Duration::from_millis(TIMEOUT_MS * 3)), "timeout"),
        (Answer::Down, "connect"),
    ];
    for (i, (answer, reason)) in failures.into_iter().enumerate() {
        let i = i + 2;
        let text = distinct_feedback(i);
        let before = sample(&n, &format!("svea_scoring_fallbacks_total{{reason=\"{reason}\"}}"));
        fake.set(answer);
        let (r, took) = customer(&n, &biz.token, i, text);
        assert_eq!(r.status, 200, "{answer:?}: {}", r.body);
        assert_eq!(r.body["score_source"], "rubric", "{answer:?}: {}", r.body);
        assert_eq!(r.body["score_model"], Value::Null, "{answer:?}: {}", r.body);
        assert_eq!(r.body["quality_score"], RubricScorer.score(text).total, "{answer:?}: {}", r.body);
        assert_eq!(r.body["quality_score"], r.body["score_breakdown"]["total"], "{answer:?}: {}", r.body);
        assert!(matches!(r.body["state"].as_str(), Some("rewarded" | "rejected")), "{answer:?}: {}", r.body);
        assert!(took < limit, "{answer:?}: feedback took {took:?}, more than {limit:?}");
        if let Answer::Late(_) = answer {
            assert!(took >= Duration::from_millis(TIMEOUT_MS), "it waited for the model first: {took:?}");
        }
        let after = sample(&n, &format!("svea_scoring_fallbacks_total{{reason=\"{reason}\"}}"));
        assert_eq!(after, before + 1, "{answer:?} counted as {reason}");
    }
    // 93 and 5: the retry found its session rewarded already, so the model was not asked.
    assert_eq!(sample(&n, "svea_feedback_scored_total{source=\"ollama\"}"), 2);
    assert!(n.log_text().contains("model scoring failed; the rubric scored"), "failures are logged");
}

#[test]
fn the_rubric_backend_never_calls_the_model_server() {
    let fake = FakeOllama::start();
    let dir = tempfile::tempdir().expect("tmp");
    // The default backend, with a model server configured and answering.
    let n = NodeProc::start(dir.path(), &[("scoring.ollama_url", &fake.url)]);
    let biz = create_business(&n, "100000.00");
    fake.set(Answer::Score(1));
    let (r, _) = customer(&n, &biz.token, 0, GOOD_FEEDBACK);
    assert_eq!(r.body["score_source"], "rubric", "{}", r.body);
    assert_eq!(r.body["quality_score"], RubricScorer.score(GOOD_FEEDBACK).total, "{}", r.body);
    assert!(fake.requests().is_empty(), "asked: {:?}", fake.requests());
    assert_eq!(sample(&n, "svea_feedback_scored_total{source=\"rubric\"}"), 1);
}

/// Issue 20, item 7: the feedback path finds the session and its state before it scores, so a
/// post that cannot be stored costs no model call: an unknown session (404), a session without a
/// confirmed purchase (409), a session that has its feedback already (409, or for a retry of the
/// same text the session as it is).
#[test]
fn feedback_that_cannot_be_stored_costs_no_model_call() {
    let fake = FakeOllama::start();
    let dir = tempfile::tempdir().expect("tmp");
    let n = NodeProc::start(dir.path(), &[("scoring.backend", "ollama"), ("scoring.ollama_url", &fake.url), ("scoring.model", "qwen2:0.5b")]);
    let biz = create_business(&n, "100000.00");
    fake.set(Answer::Score(90));
    let asked = || fake.requests().len();

    // Random session ids, well formed: each is 404 and no model call.
    for i in 0..20 {
        let sid = format!("s_{:032x}", 0x5eed_0000_u128 + i);
        feedback(&n, &sid, distinct_feedback(0)).problem(404, "session-not-found");
    }
    assert_eq!(asked(), 0, "unknown sessions were scored: {:?}", fake.requests());

    // A session whose purchase is not confirmed: 409, no model call.
    let opened = open_session(&n, &biz.token);
    feedback(&n, &opened, distinct_feedback(1)).problem(409, "purchase-not-confirmed");
    assert_eq!(asked(), 0);

    // The one post that can be stored is scored by the model, once.
    let (r, _) = customer(&n, &biz.token, 1, distinct_feedback(2));
    assert_eq!((r.status, r.body["score_source"].as_str()), (200, Some("ollama")), "{}", r.body);
    assert_eq!(asked(), 1);
    let sid = r.str("id");

    // That session again, with another text (409) or the same text (its first answer): no call.
    feedback(&n, &sid, distinct_feedback(3)).problem(409, "feedback-already-submitted");
    let again = feedback(&n, &sid, distinct_feedback(2));
    assert_eq!((again.status, again.body["quality_score"].clone()), (200, 90.into()), "{}", again.body);
    assert_eq!(asked(), 1, "asked: {:?}", fake.requests());
    assert_eq!(sample(&n, "svea_feedback_scored_total{source=\"ollama\"}"), 1);
}

/// A clock that can be moved forward: the real time plus a shift.
#[derive(Default)]
struct ShiftedClock(std::sync::atomic::AtomicI64);

impl svea_node::actors::Clock for ShiftedClock {
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        chrono::Utc::now() + chrono::Duration::seconds(self.0.load(std::sync::atomic::Ordering::SeqCst))
    }
}

/// Issue 20, item 3: every business's rewarded texts of the last day are a replicated record
/// (`dfp/`), written with the settlement, erased with the text when the customer erases their
/// data, and purged by the sweeper once the day has passed.
#[test]
fn a_rewarded_texts_fingerprint_is_kept_a_day_and_erased_with_the_text() {
    use svea_node::core::{start, SessionMsg};
    use svea_node::domain::{CreateBusiness, DeviceId, NewLocation, Ore, RewardPolicy, RubricScorer};

    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    tokio::task::LocalSet::new().block_on(&rt, async {
        let dir = tempfile::tempdir().expect("tmp");
        let mut raw = svea_config::RawConfig::default();
        raw.node.data_dir = dir.path().to_string_lossy().into_owned();
        raw.timeouts.expiry_sweep_ms = 100;
        let clock = Arc::new(ShiftedClock::default());
        let core = start(raw.validate().expect("config"), clock.clone(), Arc::new(RubricScorer::new())).await.expect("start");
        let node = core.handle.clone();
        crate::poll::eventually_async(Duration::from_secs(20), "the node ready", || node.ready()).await;
        let request = CreateBusiness::new(
            "Kaféet",
            next_org_number(),
            vec![NewLocation::new("Torget", 59.3, 18.0).expect("location")],
            Ore::parse_sek("1000.00").expect("sek"),
            RewardPolicy::default(),
        )
        .expect("valid business");
        let (b, _) = node.create_business(request).await.expect("create business");
        let token = b.locations[0].qr_token.clone();
        let day_prints = || node.cluster().view().scan_index("dfp/", 100).expect("scan").len();
        let earn = |device: &'static str, text: &'static str| {
            let (node, token) = (node.clone(), token.clone());
            async move {
                let id = DeviceId::random();
                let (s, _) = node.open_session(token, id.clone(), None).await.expect("open");
                let confirm = SessionMsg::ConfirmPurchase {
                    amount: Ore::parse_sek("100.00").expect("sek"),
                    purchased_at: chrono::Utc::now(),
                    transaction_id: format!("T-{device}").parse().expect("txn"),
                };
                node.session(s.id.clone(), confirm).await.expect("purchase");
                let done = node.session(s.id.clone(), SessionMsg::Feedback { text: text.to_string() }).await.expect("feedback");
                assert!(done.feedback.as_ref().and_then(|f| f.settlement).is_some_and(|s| s.decision.amount > Ore::ZERO), "{done:?}");
                id
            }
        };
        assert_eq!(day_prints(), 0);
        let first = earn("day-print-1", distinct_feedback(0)).await;
        assert_eq!(day_prints(), 1, "recorded with the settlement");
        node.erase_device(&first).await.expect("erase");
        assert_eq!(day_prints(), 0, "erased with the text");

        earn("day-print-2", distinct_feedback(1)).await;
        assert_eq!(day_prints(), 1);
        clock.0.store(25 * 3600, std::sync::atomic::Ordering::SeqCst);
        crate::poll::eventually_async(Duration::from_secs(20), "the sweeper purged the day-old fingerprint", || async { day_prints() == 0 }).await;
        core.shutdown().await;
    });
}
