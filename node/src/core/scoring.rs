//! The score of a feedback text, as the node decides it before the session actor stores it:
//! the rubric always (its breakdown is kept), and with `scoring.backend = "ollama"` the model's
//! score as the one that counts, unless the model fails in any way (unreachable, slow, non-2xx,
//! unparsable, out of range): then the rubric's, logged and counted per reason.
//!
//! This runs on the caller's runtime (an HTTP worker), never inside an actor's slot, so a slow
//! model delays only its own customer, by at most `scoring.timeout_ms`. The deterministic
//! simulation starts the core without a model client (`Parts::model` is `None`), so only the
//! rubric ever scores there.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::ollama::{ModelError, OllamaClient, FAILURE_REASONS};
use crate::domain::scoring::{ScoreSource, Scored, Scorer};

/// Scores feedback texts for one node.
pub struct FeedbackScoring {
    rubric: Arc<dyn Scorer>,
    model: Option<OllamaClient>,
    counters: ScoringCounters,
}

impl FeedbackScoring {
    /// The rubric alone, or `model` first with the rubric as fallback.
    pub fn new(rubric: Arc<dyn Scorer>, model: Option<OllamaClient>) -> FeedbackScoring {
        FeedbackScoring { rubric, model, counters: ScoringCounters::default() }
    }

    /// The score of `text` and who gave it. Never fails.
    pub async fn score(&self, text: &str) -> Scored {
        let rubric = self.rubric.score(text);
        let Some(model) = &self.model else {
            self.counters.rubric.fetch_add(1, Ordering::Relaxed);
            return Scored::by_rubric(rubric);
        };
        let answer = model.score(text).await;
        match decide(answer, model.model(), rubric) {
            Ok(scored) => {
                self.counters.ollama.fetch_add(1, Ordering::Relaxed);
                scored
            }
            Err((e, scored)) => {
                tracing::warn!(reason = e.reason(), error = %e, model = model.model(), "model scoring failed; the rubric scored");
                self.counters.fallback(e.reason());
                self.counters.rubric.fetch_add(1, Ordering::Relaxed);
                scored
            }
        }
    }

    /// The rubric's score of `text`, never the model's, and not counted: for feedback its
    /// session will not store (it does not await feedback), so it costs no model call.
    pub fn rubric_only(&self, text: &str) -> Scored {
        Scored::by_rubric(self.rubric.score(text))
    }

    /// The scoring counters, for `/metrics`.
    pub fn encode(&self, enc: &mut prometheus_client::encoding::DescriptorEncoder) -> std::fmt::Result {
        self.counters.encode(enc)
    }
}

/// The score that counts, given the model's `answer`: the model's, or on any failure the rubric's
/// (returned with the failure).
fn decide(answer: Result<u8, ModelError>, model: &str, rubric: crate::domain::QualityScore) -> Result<Scored, (ModelError, Scored)> {
    let source = ScoreSource::Ollama { model: model.to_string() };
    match answer {
        Ok(total) => match Scored::by_model(total, source, rubric) {
            Some(s) => Ok(s),
            None => Err((ModelError::OutOfRange { score: i128::from(total) }, Scored::by_rubric(rubric))),
        },
        Err(e) => Err((e, Scored::by_rubric(rubric))),
    }
}

/// How feedback was scored on this node since it started.
#[derive(Default)]
struct ScoringCounters {
    /// Scored by the rubric (configured, or after a model failure).
    rubric: AtomicU64,
    /// Scored by the model.
    ollama: AtomicU64,
    /// Model failures, by [`FAILURE_REASONS`] position.
    fallbacks: [AtomicU64; FAILURE_REASONS.len()],
}

impl ScoringCounters {
    fn fallback(&self, reason: &str) {
        if let Some(i) = FAILURE_REASONS.iter().position(|r| *r == reason) {
            self.fallbacks[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    fn encode(&self, enc: &mut prometheus_client::encoding::DescriptorEncoder) -> std::fmt::Result {
        let load = |n: &AtomicU64| n.load(Ordering::Relaxed);
        crate::telemetry::counter_family(
            enc,
            "svea_feedback_scored",
            "Feedback texts scored on this node, by who gave the score that counts",
            [("rubric", &self.rubric), ("ollama", &self.ollama)].map(|(source, n)| ([("source", source)], load(n))),
        )?;
        crate::telemetry::counter_family(
            enc,
            "svea_scoring_fallbacks",
            "Model scoring failures answered by the rubric, by reason",
            FAILURE_REASONS.iter().zip(&self.fallbacks).map(|(reason, n)| ([("reason", *reason)], load(n))),
        )
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::domain::RubricScorer;

    const TEXT: &str = "The cashier Lisa was friendly, but the queue was long. You should open a second till.";

    #[test]
    fn the_models_score_counts_and_the_rubrics_breakdown_stays() {
        let rubric = RubricScorer.score(TEXT);
        let s = decide(Ok(42), "qwen2:0.5b", rubric).unwrap();
        assert_eq!(s.total, 42);
        assert_eq!(s.source, ScoreSource::Ollama { model: "qwen2:0.5b".into() });
        assert_eq!(s.rubric, rubric);
        assert!(s.is_valid());
    }

    #[test]
    fn every_failure_falls_back_to_the_rubric() {
        let rubric = RubricScorer.score(TEXT);
        let failures = [
            ModelError::Connect { url: "http://127.0.0.1:1/api/generate".into(), reason: "refused".into() },
            ModelError::Timeout { after: Duration::from_millis(5) },
            ModelError::Status { status: 500 },
            ModelError::Unparsable { reason: "x".into() },
            ModelError::OutOfRange { score: 101 },
        ];
        for e in failures {
            let reason = e.reason();
            let (_, s) = decide(Err(e), "qwen2:0.5b", rubric).unwrap_err();
            assert_eq!(s, Scored::by_rubric(rubric), "{reason}");
            assert_eq!(s.source, ScoreSource::Rubric);
        }
        // A score over 100 that got this far is refused here too.
        let (e, s) = decide(Ok(101), "m", rubric).unwrap_err();
        assert_eq!((e.reason(), s.source), ("out_of_range", ScoreSource::Rubric));
    }

    fn rendered(scoring: &Arc<FeedbackScoring>) -> String {
        let scoring = scoring.clone();
        crate::telemetry::encode_with(move |enc| scoring.encode(enc))
    }

    #[tokio::test]
    async fn the_rubric_backend_never_calls_a_model_and_counts() {
        let scoring = Arc::new(FeedbackScoring::new(Arc::new(RubricScorer), None));
        let s = scoring.score(TEXT).await;
        assert_eq!(s, Scored::by_rubric(RubricScorer.score(TEXT)));
        let out = rendered(&scoring);
        assert!(out.contains("svea_feedback_scored_total{source=\"rubric\"} 1\n"), "{out}");
        assert!(out.contains("svea_scoring_fallbacks_total{reason=\"timeout\"} 0\n"), "{out}");
    }

    #[tokio::test]
    async fn an_unreachable_model_falls_back_and_counts_the_reason() {
        // A port nothing listens on: bind one, then close it.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let raw = svea_config::RawConfig { scoring: svea_config::RawScoring { ollama_url: format!("http://127.0.0.1:{port}"), ..Default::default() }, ..Default::default() };
        let config = raw.validate().unwrap();
        let scoring = Arc::new(FeedbackScoring::new(Arc::new(RubricScorer), Some(OllamaClient::new(&config.scoring))));
        let s = scoring.score(TEXT).await;
        assert_eq!(s, Scored::by_rubric(RubricScorer.score(TEXT)));
        let out = rendered(&scoring);
        assert!(out.contains("svea_scoring_fallbacks_total{reason=\"connect\"} 1\n"), "{out}");
        assert!(out.contains("svea_feedback_scored_total{source=\"ollama\"} 0\n"), "{out}");
    }
}
