//! What a business registers, as values that can only exist validated: HTTP, the simulations
//! and the tests build them through the same constructors, so every caller gets the same checks.

use super::validate::{validate_business_name, validate_location, validate_location_count};
use super::{DomainError, OrgNumber, Ore, PurchaseVerification, RewardPolicy};

/// A location to create: trimmed name of 1 to [`LOCATION_NAME_CHARS_MAX`](super::validate::LOCATION_NAME_CHARS_MAX)
/// characters, coordinates in range.
#[derive(Debug, Clone, PartialEq)]
pub struct NewLocation {
    name: String,
    lat: f64,
    lon: f64,
}

impl NewLocation {
    /// Checks name and coordinates.
    pub fn new(name: &str, lat: f64, lon: f64) -> Result<NewLocation, DomainError> {
        let name = validate_location(name, lat, lon)?.to_string();
        Ok(NewLocation { name, lat, lon })
    }

    /// Name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Latitude, degrees.
    pub fn lat(&self) -> f64 {
        self.lat
    }

    /// Longitude, degrees.
    pub fn lon(&self) -> f64 {
        self.lon
    }
}

/// A business to create: a trimmed name of 1 to 100 characters, 1 to 20 locations and a valid
/// reward policy (the budget is an `Ore`, which HTTP parses with `Ore::parse_sek`: never negative).
#[derive(Debug, Clone, PartialEq)]
pub struct CreateBusiness {
    name: String,
    org_number: OrgNumber,
    locations: Vec<NewLocation>,
    budget: Ore,
    policy: RewardPolicy,
    purchase_verification: PurchaseVerification,
}

impl CreateBusiness {
    /// Checks the name, the number of locations and the policy.
    pub fn new(
        name: &str,
        org_number: OrgNumber,
        locations: Vec<NewLocation>,
        budget: Ore,
        policy: RewardPolicy,
    ) -> Result<CreateBusiness, DomainError> {
        let name = validate_business_name(name)?.to_string();
        validate_location_count(locations.len())?;
        policy.validate()?;
        Ok(CreateBusiness { name, org_number, locations, budget, policy, purchase_verification: PurchaseVerification::default() })
    }

    /// The same business, verifying purchases as `v` (self-declared unless set).
    pub fn with_purchase_verification(mut self, v: PurchaseVerification) -> CreateBusiness {
        self.purchase_verification = v;
        self
    }

    /// How customers prove their purchase.
    pub fn purchase_verification(&self) -> PurchaseVerification {
        self.purchase_verification
    }

    /// Name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Organisationsnummer.
    pub fn org_number(&self) -> &OrgNumber {
        &self.org_number
    }

    /// The locations, at least one.
    pub fn locations(&self) -> &[NewLocation] {
        &self.locations
    }

    /// The first location (the business's home region is the one nearest to it).
    pub fn first_location(&self) -> &NewLocation {
        // The constructor checked there is at least one.
        &self.locations[0]
    }

    /// Reward budget.
    pub fn budget(&self) -> Ore {
        self.budget
    }

    /// Reward percentages.
    pub fn policy(&self) -> &RewardPolicy {
        &self.policy
    }
}
