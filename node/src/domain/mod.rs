//! Domain rules of svea: money, identifiers, validation of what customers and
//! businesses send, feedback scoring and cashback.
//!
//! Pure logic: no I/O, no clock (callers pass `now`), no global state but the
//! rubric's dictionaries (parsed once, read-only: [`dictionary`]). The only
//! randomness is identifier generation, which takes the RNG as an argument
//! (`random()` helpers use the OS RNG for convenience).
//! [`DomainError::kind`] gives each rule violation a stable name for the HTTP
//! layer.

pub mod apikey;
pub mod brake;
pub mod day;
pub mod device;
pub mod dictionary;
mod error;
pub mod ids;
pub mod inputs;
pub mod language;
pub mod ledger;
pub mod money;
pub mod network;
pub mod orgnr;
pub mod payee;
pub mod pos;
pub mod reward;
pub mod scoring;
pub mod signin;
pub mod signup;
pub mod similarity;
pub mod stripe;
pub mod validate;

#[cfg(test)]
mod corpus_tests;

pub use apikey::{ApiKey, KeyHash, MalformedKey};
pub use day::{swedish_day, swedish_day_key};
pub use device::{DeviceHash, DeviceId, DeviceKey, DeviceToken, DeviceTokenError};
pub use error::DomainError;
pub use inputs::{CreateBusiness, NewLocation};
pub use ids::{BusinessId, IdError, LocationId, QrToken, SessionId, TransactionId};
pub use money::{MoneyError, Ore};
pub use network::{NetworkHash, NetworkKey};
pub use brake::{Brake, HourlyRewards};
pub use orgnr::{OrgNumber, OrgNumberError};
pub use pos::{Delivery, PosError, PosId, PosIntegration, Provider, PurchaseVerification, ReportedPurchase, TillRefund};
pub use reward::{
    compute_reward, Cap, RewardDecision, RewardPolicy, RewardTier, Tier, REWARD_CAP_PER_SESSION,
};
pub use scoring::{QualityScore, RubricScorer, ScoreSource, Scored, Scorer};
pub use similarity::{DuplicateRule, Fingerprint, Shingles};
pub use validate::{
    validate_business_name, validate_coordinates, validate_declared_amount_max, validate_feedback_text, validate_location,
    validate_location_count, validate_location_name, validate_purchase_amount,
    validate_purchase_time,
};
