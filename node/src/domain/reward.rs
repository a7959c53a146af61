//! Cashback for a scored piece of feedback.
//!
//! A business pays a percentage of the purchase that grows with the quality
//! score, in three tiers. The payout is rounded down to whole öre, never
//! exceeds [`REWARD_CAP_PER_SESSION`] and never exceeds what is left of the
//! business's budget.

use serde::{Deserialize, Serialize};

use super::error::DomainError;
use super::money::{Ore, BASIS_POINTS_PER_WHOLE};

/// Most cashback one feedback session can earn: 100 SEK.
pub const REWARD_CAP_PER_SESSION: Ore = Ore::from_ore(10_000);

/// Highest possible quality score.
const SCORE_MAX: u8 = 100;

/// One reward tier: from `min_score` (inclusive) up to the next tier's
/// `min_score` (exclusive), pay `basis_points` of the purchase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tier {
    /// Lowest score in this tier.
    pub min_score: u8,
    /// Share of the purchase paid back, in basis points (100 bp = 1 %).
    pub basis_points: u32,
}

/// Which tier a score fell into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RewardTier {
    /// Below the lowest tier: no cashback.
    None,
    /// Tier 0, by default scores 50..=69.
    Low,
    /// Tier 1, by default scores 70..=84.
    Mid,
    /// Tier 2, by default scores 85..=100.
    High,
}

/// What limited a reward below its percentage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Cap {
    /// [`REWARD_CAP_PER_SESSION`].
    PerSession,
    /// The business's remaining budget.
    Budget,
    /// What is left of the business's daily reward cap (`abuse.business_daily_reward_cap_sek`).
    BusinessDailyCap,
}

/// A business's reward percentages per tier.
///
/// The fields are public for (de)serialisation; a policy from outside must go
/// through [`RewardPolicy::validate`] (or be built with
/// [`RewardPolicy::with_basis_points`]). [`compute_reward`] stays safe for an
/// unvalidated policy: it never pays more than the caps or less than zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RewardPolicy {
    /// Low, mid and high tier, in increasing `min_score`.
    pub tiers: [Tier; 3],
}

/// Default tier thresholds: 50, 70 and 85 points.
pub const DEFAULT_TIER_MIN_SCORES: [u8; 3] = [50, 70, 85];
/// Default payouts: 2 %, 5 % and 8 %.
pub const DEFAULT_TIER_BASIS_POINTS: [u32; 3] = [200, 500, 800];

impl Default for RewardPolicy {
    fn default() -> Self {
        RewardPolicy::from_parts(DEFAULT_TIER_MIN_SCORES, DEFAULT_TIER_BASIS_POINTS)
    }
}

impl RewardPolicy {
    fn from_parts(min_scores: [u8; 3], basis_points: [u32; 3]) -> Self {
        let tier = |i: usize| Tier {
            min_score: min_scores[i],
            basis_points: basis_points[i],
        };
        RewardPolicy {
            tiers: [tier(0), tier(1), tier(2)],
        }
    }

    /// The default thresholds with a business's own percentages for the low,
    /// mid and high tier, validated.
    pub fn with_basis_points(low: u32, mid: u32, high: u32) -> Result<Self, DomainError> {
        let policy = RewardPolicy::from_parts(DEFAULT_TIER_MIN_SCORES, [low, mid, high]);
        policy.validate()?;
        Ok(policy)
    }

    /// Each tier pays 0..=10 000 basis points, no tier pays less than the one
    /// below it, and thresholds strictly increase within 1..=100.
    pub fn validate(&self) -> Result<(), DomainError> {
        let mut floor = 0u8;
        for (i, tier) in self.tiers.iter().enumerate() {
            if tier.min_score <= floor || tier.min_score > SCORE_MAX {
                return Err(DomainError::RewardTierThreshold {
                    tier: i,
                    min_score: tier.min_score,
                    floor,
                });
            }
            floor = tier.min_score;
            if tier.basis_points > BASIS_POINTS_PER_WHOLE {
                return Err(DomainError::RewardTierTooHigh {
                    tier: i,
                    basis_points: tier.basis_points,
                    max: BASIS_POINTS_PER_WHOLE,
                });
            }
            if i > 0 {
                let lower = self.tiers[i - 1];
                if tier.basis_points < lower.basis_points {
                    return Err(DomainError::RewardTiersDecreasing {
                        tier: i,
                        basis_points: tier.basis_points,
                        lower_tier: i - 1,
                        lower_basis_points: lower.basis_points,
                    });
                }
            }
        }
        Ok(())
    }

    /// The tier a score falls into and the basis points it pays. Scores
    /// above 100 count as 100.
    pub fn tier_for(&self, score: u8) -> (RewardTier, u32) {
        let score = score.min(SCORE_MAX);
        let names = [RewardTier::Low, RewardTier::Mid, RewardTier::High];
        self.tiers
            .iter()
            .zip(names)
            .rev()
            .find(|(tier, _)| score >= tier.min_score)
            .map_or((RewardTier::None, 0), |(tier, name)| {
                (name, tier.basis_points)
            })
    }
}

/// The outcome of [`compute_reward`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RewardDecision {
    /// Tier the score fell into.
    pub tier: RewardTier,
    /// Cashback to pay, 0 or more.
    pub amount: Ore,
    /// The limit that made `amount` smaller than the tier's percentage, if
    /// any; when both apply, the one that bound last (the budget).
    pub capped_by: Option<Cap>,
}

/// Cashback for a score on a purchase: `floor(purchase * bp / 10 000)`, then
/// at most [`REWARD_CAP_PER_SESSION`], then at most `remaining_budget`, and
/// never negative (a negative purchase or budget pays nothing).
pub fn compute_reward(
    policy: &RewardPolicy,
    score: u8,
    purchase: Ore,
    remaining_budget: Ore,
) -> RewardDecision {
    let (tier, basis_points) = policy.tier_for(score);
    if tier == RewardTier::None {
        return RewardDecision {
            tier,
            amount: Ore::ZERO,
            capped_by: None,
        };
    }
    let mut amount = purchase.percent_floor(basis_points).max(Ore::ZERO);
    let mut capped_by = None;
    if amount > REWARD_CAP_PER_SESSION {
        amount = REWARD_CAP_PER_SESSION;
        capped_by = Some(Cap::PerSession);
    }
    let budget = remaining_budget.max(Ore::ZERO);
    if amount > budget {
        amount = budget;
        capped_by = Some(Cap::Budget);
    }
    RewardDecision {
        tier,
        amount,
        capped_by,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLENTY: Ore = Ore::from_ore(100_000_000);

    fn reward(score: u8, purchase_ore: i64) -> RewardDecision {
        compute_reward(
            &RewardPolicy::default(),
            score,
            Ore::from_ore(purchase_ore),
            PLENTY,
        )
    }

    #[test]
    fn default_policy_is_valid() {
        assert_eq!(RewardPolicy::default().validate(), Ok(()));
    }

    #[test]
    fn tier_boundaries() {
        // 249.00 SEK purchase.
        let p = 24_900;
        let cases = [
            (0, RewardTier::None, 0),
            (49, RewardTier::None, 0),
            (50, RewardTier::Low, 498), // 2 %
            (69, RewardTier::Low, 498),
            (70, RewardTier::Mid, 1_245), // 5 %
            (84, RewardTier::Mid, 1_245),
            (85, RewardTier::High, 1_992), // 8 %
            (100, RewardTier::High, 1_992),
            (255, RewardTier::High, 1_992), // out-of-range score counts as 100
        ];
        for (score, tier, amount) in cases {
            let d = reward(score, p);
            assert_eq!(
                d,
                RewardDecision {
                    tier,
                    amount: Ore::from_ore(amount),
                    capped_by: None
                },
                "score {score}"
            );
        }
    }

    #[test]
    fn amount_is_rounded_down() {
        // 8 % of 12.37 SEK = 0.9896 SEK -> 0.98.
        assert_eq!(reward(90, 1_237).amount, Ore::from_ore(98));
        // 2 % of 1.00 SEK = 0.02.
        assert_eq!(reward(50, 100).amount, Ore::from_ore(2));
    }

    #[test]
    fn per_session_cap() {
        // 8 % of 1250.00 = exactly 100.00: not capped.
        assert_eq!(
            reward(100, 125_000),
            RewardDecision {
                tier: RewardTier::High,
                amount: Ore::from_ore(10_000),
                capped_by: None
            }
        );
        // 8 % of 1250.13 = 100.0104: capped.
        assert_eq!(
            reward(100, 125_013),
            RewardDecision {
                tier: RewardTier::High,
                amount: REWARD_CAP_PER_SESSION,
                capped_by: Some(Cap::PerSession)
            }
        );
        assert_eq!(reward(100, i64::MAX).amount, REWARD_CAP_PER_SESSION);
    }

    #[test]
    fn budget_limits_and_exhaustion() {
        let policy = RewardPolicy::default();
        // 5 % of 500.00 = 25.00, but only 10.00 left.
        let d = compute_reward(&policy, 75, Ore::from_ore(50_000), Ore::from_ore(1_000));
        assert_eq!(
            d,
            RewardDecision {
                tier: RewardTier::Mid,
                amount: Ore::from_ore(1_000),
                capped_by: Some(Cap::Budget)
            }
        );
        // Exactly enough budget: not capped.
        let d = compute_reward(&policy, 75, Ore::from_ore(50_000), Ore::from_ore(2_500));
        assert_eq!(d.amount, Ore::from_ore(2_500));
        assert_eq!(d.capped_by, None);
        // Over the session cap and over the budget: the budget bound last.
        let d = compute_reward(&policy, 99, Ore::from_ore(1_000_000), Ore::from_ore(5_000));
        assert_eq!(d.amount, Ore::from_ore(5_000));
        assert_eq!(d.capped_by, Some(Cap::Budget));
    }

    #[test]
    fn zero_or_negative_budget_pays_nothing() {
        let policy = RewardPolicy::default();
        let d = compute_reward(&policy, 90, Ore::from_ore(24_900), Ore::ZERO);
        assert_eq!(
            d,
            RewardDecision {
                tier: RewardTier::High,
                amount: Ore::ZERO,
                capped_by: Some(Cap::Budget)
            }
        );
        let d = compute_reward(&policy, 90, Ore::from_ore(24_900), Ore::from_ore(-500));
        assert_eq!(d.amount, Ore::ZERO);
        // Below the lowest tier nothing is capped, even with no budget.
        let d = compute_reward(&policy, 10, Ore::from_ore(24_900), Ore::ZERO);
        assert_eq!(
            d,
            RewardDecision {
                tier: RewardTier::None,
                amount: Ore::ZERO,
                capped_by: None
            }
        );
    }

    #[test]
    fn negative_purchase_pays_nothing() {
        assert_eq!(reward(90, -24_900).amount, Ore::ZERO);
    }

    #[test]
    fn custom_percentages_are_validated() {
        let policy = RewardPolicy::with_basis_points(0, 300, 1_000).expect("valid");
        assert_eq!(
            compute_reward(&policy, 60, Ore::from_ore(10_000), PLENTY),
            RewardDecision {
                tier: RewardTier::Low,
                amount: Ore::ZERO,
                capped_by: None
            }
        );
        assert_eq!(
            compute_reward(&policy, 90, Ore::from_ore(10_000), PLENTY).amount,
            Ore::from_ore(1_000)
        );
        assert!(RewardPolicy::with_basis_points(500, 500, 500).is_ok());
        assert!(RewardPolicy::with_basis_points(10_000, 10_000, 10_000).is_ok());

        let err = RewardPolicy::with_basis_points(200, 100, 800).unwrap_err();
        assert_eq!(
            err,
            DomainError::RewardTiersDecreasing {
                tier: 1,
                basis_points: 100,
                lower_tier: 0,
                lower_basis_points: 200
            }
        );
        assert_eq!(err.kind(), "invalid-reward-policy");
        let err = RewardPolicy::with_basis_points(200, 500, 10_001).unwrap_err();
        assert!(matches!(
            err,
            DomainError::RewardTierTooHigh {
                tier: 2,
                basis_points: 10_001,
                ..
            }
        ));
    }

    #[test]
    fn thresholds_are_validated() {
        let mut policy = RewardPolicy::default();
        policy.tiers[1].min_score = 50;
        assert!(matches!(
            policy.validate(),
            Err(DomainError::RewardTierThreshold { tier: 1, .. })
        ));
        let mut policy = RewardPolicy::default();
        policy.tiers[2].min_score = 101;
        assert!(policy.validate().is_err());
        let mut policy = RewardPolicy::default();
        policy.tiers[0].min_score = 0;
        assert!(policy.validate().is_err());
    }

    #[test]
    fn unvalidated_policy_still_respects_caps() {
        let policy = RewardPolicy {
            tiers: [
                Tier {
                    min_score: 50,
                    basis_points: u32::MAX,
                },
                Tier {
                    min_score: 70,
                    basis_points: 0,
                },
                Tier {
                    min_score: 85,
                    basis_points: 0,
                },
            ],
        };
        let d = compute_reward(&policy, 60, Ore::from_ore(i64::MAX), Ore::from_ore(700));
        assert_eq!(d.amount, Ore::from_ore(700));
        assert_eq!(d.capped_by, Some(Cap::Budget));
    }

    #[test]
    fn serde_shape() {
        let d = RewardDecision {
            tier: RewardTier::Mid,
            amount: Ore::from_ore(1_245),
            capped_by: Some(Cap::PerSession),
        };
        let json = serde_json::to_string(&d).expect("serialise");
        assert_eq!(
            json,
            r#"{"tier":"mid","amount":1245,"capped_by":"per-session"}"#
        );
    }
}
