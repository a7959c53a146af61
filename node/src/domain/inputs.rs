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
    address: String,
}

/// Longest street address of a location, in characters.
pub const LOCATION_ADDRESS_CHARS_MAX: usize = 200;

impl NewLocation {
    /// Checks name and coordinates.
    pub fn new(name: &str, lat: f64, lon: f64) -> Result<NewLocation, DomainError> {
        let name = validate_location(name, lat, lon)?.to_string();
        Ok(NewLocation { name, lat, lon, address: String::new() })
    }

    /// The same location with its street address (trimmed, at most
    /// [`LOCATION_ADDRESS_CHARS_MAX`] characters, no control characters; may be empty).
    pub fn with_address(mut self, address: &str) -> Result<NewLocation, DomainError> {
        let a = address.trim();
        if a.chars().count() > LOCATION_ADDRESS_CHARS_MAX || a.chars().any(char::is_control) {
            return Err(DomainError::LocationAddress { chars: a.chars().count(), max: LOCATION_ADDRESS_CHARS_MAX });
        }
        self.address = a.to_owned();
        Ok(self)
    }

    /// Street address as given (may be empty).
    pub fn address(&self) -> &str {
        &self.address
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
    contact_email: Option<crate::domain::signin::Email>,
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
        Ok(CreateBusiness { name, org_number, locations, budget, policy, purchase_verification: PurchaseVerification::default(), contact_email: None })
    }

    /// The same business, verifying purchases as `v` (self-declared unless set).
    pub fn with_purchase_verification(mut self, v: PurchaseVerification) -> CreateBusiness {
        self.purchase_verification = v;
        self
    }

    /// The same business with a contact e-mail: svea mails it a verification link, and later
    /// sign-in links.
    pub fn with_contact_email(mut self, email: crate::domain::signin::Email) -> CreateBusiness {
        self.contact_email = Some(email);
        self
    }

    /// The contact e-mail, if given.
    pub fn contact_email(&self) -> Option<&crate::domain::signin::Email> {
        self.contact_email.as_ref()
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
