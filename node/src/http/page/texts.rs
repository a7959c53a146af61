//! Every text the customer's page shows, one table per language: Swedish (the default) and
//! English. Problem kinds (the `urn:svea:problem:<kind>` of the API) become sentences here, so a
//! customer never reads an error code.

/// The page's language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// Swedish, the default.
    Sv,
    /// English.
    En,
}

impl Lang {
    /// The language a `lang` parameter or cookie names; `None` for anything else.
    pub fn parse(raw: &str) -> Option<Lang> {
        match raw {
            "sv" => Some(Lang::Sv),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// The BCP 47 tag (`lang` attribute, parameter and cookie value).
    pub fn tag(self) -> &'static str {
        match self {
            Lang::Sv => "sv",
            Lang::En => "en",
        }
    }

    /// The other language (the switch offers it).
    pub fn other(self) -> Lang {
        match self {
            Lang::Sv => Lang::En,
            Lang::En => Lang::Sv,
        }
    }

    /// This language's texts.
    pub fn texts(self) -> &'static Texts {
        match self {
            Lang::Sv => &SV,
            Lang::En => &EN,
        }
    }
}

/// The texts of one language.
pub struct Texts {
    pub title: &'static str,
    /// The switch to this language, written in it ("Svenska", "English").
    pub language_name: &'static str,
    pub at_location: &'static str,
    pub steps: [&'static str; 4],
    pub step_of: &'static str,
    pub intro: &'static str,
    pub open_button: &'static str,
    pub purchase_heading: &'static str,
    pub purchase_help: &'static str,
    pub amount_label: &'static str,
    pub amount_hint: &'static str,
    pub time_label: &'static str,
    pub receipt_label: &'static str,
    pub receipt_hint: &'static str,
    pub purchase_button: &'static str,
    pub waiting_heading: &'static str,
    pub waiting_text: &'static str,
    pub waiting_until: &'static str,
    pub reload: &'static str,
    pub feedback_heading: &'static str,
    pub feedback_help: &'static str,
    pub feedback_label: &'static str,
    pub feedback_hint: &'static str,
    pub characters: &'static str,
    pub feedback_button: &'static str,
    pub result_heading: &'static str,
    pub score_label: &'static str,
    pub breakdown: [&'static str; 4],
    pub reward_label: &'static str,
    pub rewarded_text: &'static str,
    pub no_reward_text: &'static str,
    pub tier_names: [&'static str; 4],
    pub tier_label: &'static str,
    pub capped: [(&'static str, &'static str); 3],
    pub withheld: [(&'static str, &'static str); 8],
    /// Shown when the till refunded a purchase whose reward was paid: the reward was taken back.
    pub reversed_text: &'static str,
    /// The start page's notice when the business has no funds for rewards.
    pub no_funds_notice: &'static str,
    /// The wallet section's heading.
    pub wallet_heading: &'static str,
    /// "Balance".
    pub wallet_balance: &'static str,
    /// When a payout is made (followed by the minimum).
    pub wallet_minimum: &'static str,
    /// What each ledger entry kind is called on the customer's list (`EntryKind::index` order).
    pub entry_names: [&'static str; 7],
    /// A payout's state: in flight, paid, failed.
    pub payout_states: [&'static str; 3],
    /// Shown with payouts of the ledger-only rail.
    pub demo_note: &'static str,
    /// The payee form's heading, and its explanation (why Swish needs the personnummer).
    pub payee_heading: &'static str,
    pub payee_help: &'static str,
    /// Shown when a payee is set (the number itself is never shown whole).
    pub payee_set: &'static str,
    pub swish_number_label: &'static str,
    pub personnummer_label: &'static str,
    pub payee_button: &'static str,
    /// Why a payout failed, by Swish's error code, in this language; other codes show the
    /// reason the rail recorded (Swedish).
    pub payout_failures: &'static [(&'static str, &'static str)],
    pub expired_heading: &'static str,
    pub expired_text: &'static str,
    pub new_visit: &'static str,
    pub purchase_shown: &'static str,
    pub error_heading: &'static str,
    pub not_found_heading: &'static str,
    pub not_found_text: &'static str,
    pub rate_limited_heading: &'static str,
    pub rate_limited_text: &'static str,
    pub maintenance_heading: &'static str,
    pub maintenance_text: &'static str,
    /// The start page's offer: "Få" + "0–8 %" + "av ditt köp tillbaka".
    pub offer_before: &'static str,
    pub offer_after: &'static str,
    /// How the reward is paid and how long it takes.
    pub offer_paid: &'static str,
    /// The link to the privacy page.
    pub privacy_link: &'static str,
    /// A QR code whose location its business removed (410).
    pub retired_heading: &'static str,
    pub retired_text: &'static str,
    /// Problem kind -> sentence; kinds not listed get `problem_default`.
    pub problems: &'static [(&'static str, &'static str)],
    pub problem_default: &'static str,
}

impl Texts {
    /// The sentence for a problem kind.
    pub fn problem(&self, kind: &str) -> &'static str {
        lookup(self.problems, kind).unwrap_or(self.problem_default)
    }

    /// Why a reward was withheld (`duplicate_feedback`, ...), in words.
    pub fn withheld(&self, key: &str) -> &'static str {
        lookup(&self.withheld, key).unwrap_or(self.problem_default)
    }

    /// Why a payout failed, in words: this language's sentence for Swish's `code`, else the
    /// `reason` the rail recorded.
    pub fn payout_failure<'a>(&self, code: &str, reason: &'a str) -> &'a str {
        lookup(self.payout_failures, code).unwrap_or(reason)
    }

    /// What limited a reward (`per-session`, ...), in words.
    pub fn capped(&self, key: &str) -> &'static str {
        lookup(&self.capped, key).unwrap_or(self.problem_default)
    }
}

fn lookup(table: &[(&'static str, &'static str)], key: &str) -> Option<&'static str> {
    table.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
}

/// Swedish.
pub static SV: Texts = Texts {
    title: "Lämna feedback",
    language_name: "Svenska",
    at_location: "i",
    steps: ["Starta", "Köp", "Feedback", "Belöning"],
    step_of: "Steg",
    intro: "Berätta vad du tyckte om ditt besök och få pengar tillbaka på ditt köp. Det tar två minuter.",
    open_button: "Starta",
    purchase_heading: "Bekräfta ditt köp",
    purchase_help: "Uppgifterna finns på ditt kvitto.",
    amount_label: "Belopp (kr)",
    amount_hint: "Till exempel 89,00",
    time_label: "Tid för köpet",
    receipt_label: "Kvitto- eller transaktionsnummer",
    receipt_hint: "Står på kvittot, utan mellanslag",
    purchase_button: "Bekräfta köpet",
    waiting_heading: "Väntar på kassan",
    waiting_text: "Vi väntar på att kassan ska rapportera ditt köp. Sidan uppdateras av sig själv.",
    waiting_until: "Vi väntar till",
    reload: "Uppdatera nu",
    feedback_heading: "Skriv din feedback",
    feedback_help: "Var konkret: vad var bra, vad kunde bli bättre, och vad borde de göra? Mer genomtänkt feedback ger högre belöning.",
    feedback_label: "Din feedback",
    feedback_hint: "20 till 5 000 tecken",
    characters: "tecken",
    feedback_button: "Skicka feedback",
    result_heading: "Tack för din feedback!",
    score_label: "Poäng",
    breakdown: ["Innehåll", "Konkret", "Förslag", "Balans"],
    reward_label: "Din belöning",
    rewarded_text: "Belöningen betalas tillbaka till dig för ditt köp.",
    no_reward_text: "Den här gången blev det ingen belöning: poängen räckte inte till den lägsta nivån.",
    tier_names: ["ingen", "låg", "mellan", "hög"],
    tier_label: "Nivå",
    capped: [
        ("per-session", "Belöningen begränsades av taket per besök."),
        ("budget", "Belöningen begränsades av företagets återstående budget."),
        ("business-daily-cap", "Belöningen begränsades av företagets tak för dagen."),
    ],
    withheld: [
        ("duplicate_feedback", "Ingen belöning: texten liknar för mycket feedback som redan lämnats, här eller någon annanstans."),
        ("device_daily_limit", "Ingen belöning: du har redan fått belöning här i dag."),
        ("business_daily_cap", "Ingen belöning: företaget har nått sitt tak för belöningar i dag."),
        ("network_daily_limit", "Ingen belöning: ditt nätverk har redan fått belöningar här i dag."),
        ("pending_review", "Din belöning väntar på att företaget granskar den: ovanligt många belöningar just nu. Den betalas när företaget godkänner den."),
        ("review_refused", "Ingen belöning: företaget granskade belöningen och godkände den inte."),
        ("purchase_refunded", "Ingen belöning: köpet har återbetalats i kassan."),
        ("no_funds", "Ingen belöning: företaget har inga pengar avsatta för belöningar just nu."),
    ],
    reversed_text: "Köpet har återbetalats i kassan, så belöningen har dragits tillbaka.",
    no_funds_notice: "Just nu delar företaget inte ut några belöningar: det har inga pengar avsatta för dem. Du kan lämna feedback ändå, men utan belöning.",
    wallet_heading: "Din cashback",
    wallet_balance: "Saldo",
    wallet_minimum: "Utbetalning görs när saldot når",
    entry_names: ["Insättning", "Belöning", "Belöning återförd", "Utbetalning", "Utbetald", "Utbetalning misslyckad, tillbaka på saldot", "Insättning återbetald"],
    payout_states: ["på väg", "utbetald", "misslyckad"],
    demo_note: "demo: inga pengar skickas",
    payee_heading: "Få din cashback med Swish",
    payee_help: "Ange ditt Swishnummer och ditt personnummer: Swish kräver båda för en utbetalning och kontrollerar att numret är ditt. Vi sparar dem krypterat och använder dem bara för dina utbetalningar.",
    payee_set: "Dina utbetalningar går till ditt Swishnummer. Du kan byta nummer här.",
    swish_number_label: "Swishnummer (mobilnummer)",
    personnummer_label: "Personnummer (ÅÅÅÅMMDD-NNNN)",
    payee_button: "Spara",
    payout_failures: &[],
    expired_heading: "Tiden gick ut",
    expired_text: "Det här besöket hann inte slutföras i tid.",
    new_visit: "Börja om",
    purchase_shown: "Köp",
    error_heading: "Något blev fel",
    not_found_heading: "Vi hittar inte den här QR-koden",
    not_found_text: "Koden är okänd eller inte längre giltig. Skanna koden på plats igen, eller fråga personalen.",
    rate_limited_heading: "För många försök",
    rate_limited_text: "Vänta en stund och försök igen.",
    maintenance_heading: "Underhåll pågår",
    maintenance_text: "Försök igen om en stund. Ditt köp är inte förlorat.",
    offer_before: "Få",
    offer_after: "av ditt köp tillbaka",
    offer_paid: "Pengarna betalas ut med Swish när din feedback har fått poäng. Det tar ungefär 2 minuter.",
    privacy_link: "Så hanterar vi dina uppgifter",
    retired_heading: "Den här QR-koden används inte längre",
    retired_text: "Företaget har tagit bort platsen som koden hörde till. Fråga personalen efter en ny kod.",
    problems: &[
        ("invalid-swish-number", "Det där är inte ett svenskt mobilnummer. Skriv det som 070-123 45 67."),
        ("invalid-personnummer", "Det där är inte ett giltigt personnummer. Skriv det som 19900101-1234."),
        ("payees-off", "Utbetalningar med Swish är inte påslagna här."),
        ("qr-token-not-found", "Vi hittar inte den här QR-koden."),
        ("qr-token-retired", "Den här QR-koden används inte längre."),
        ("session-not-found", "Vi hittar inte ditt besök. Börja om."),
        ("invalid-amount", "Skriv beloppet i kronor, till exempel 89 eller 89,50."),
        ("purchase-amount-out-of-range", "Beloppet måste vara mellan 1 och 100 000 kr."),
        ("invalid-timestamp", "Ange datum och tid för köpet."),
        ("purchase-in-future", "Tiden för köpet ligger i framtiden. Kontrollera kvittot."),
        ("purchase-outside-window", "Köpet är för gammalt för att ge belöning här."),
        ("invalid-id", "Kvittonumret får bara innehålla siffror, bokstäver och tecken, inga mellanslag."),
        ("feedback-length", "Feedbacken måste vara mellan 20 och 5 000 tecken."),
        ("session-expired", "Tiden för det här besöket har gått ut. Börja om."),
        ("purchase-already-confirmed", "Köpet är redan bekräftat."),
        ("transaction-id-reused", "Det här kvittot har redan använts för feedback."),
        ("purchase-not-confirmed", "Bekräfta köpet först."),
        ("feedback-already-submitted", "Du har redan lämnat feedback för det här besöket."),
        ("purchase-not-reported", "Kassan har inte rapporterat det här köpet. Kontrollera kvittonumret, eller fråga personalen."),
        ("purchase-tries-exhausted", "Det här besöket har haft för många kvitton som kassan inte bekräftade. Fråga personalen."),
        ("purchase-already-claimed", "Det här köpet har redan använts för feedback."),
        ("declared-amount-needs-till", "Så stora köp kan inte bekräftas här: företaget måste rapportera dem från sin kassa. Fråga personalen."),
        ("cross-site-form", "Formuläret kom från en annan webbplats och skickades inte. Försök igen härifrån."),
        ("busy", "Det är mycket just nu. Försök igen om en stund."),
        ("unavailable", "Tjänsten är tillfälligt otillgänglig. Försök igen om en stund."),
        ("rate-limited", "För många försök. Vänta en stund och försök igen."),
    ],
    problem_default: "Något gick fel. Försök igen om en stund.",
};

/// English.
pub static EN: Texts = Texts {
    title: "Give feedback",
    language_name: "English",
    at_location: "at",
    steps: ["Start", "Purchase", "Feedback", "Reward"],
    step_of: "Step",
    intro: "Tell us what you thought of your visit and get money back on your purchase. It takes two minutes.",
    open_button: "Start",
    purchase_heading: "Confirm your purchase",
    purchase_help: "You find these on your receipt.",
    amount_label: "Amount (SEK)",
    amount_hint: "For example 89.00",
    time_label: "Time of purchase",
    receipt_label: "Receipt or transaction number",
    receipt_hint: "Printed on the receipt, without spaces",
    purchase_button: "Confirm purchase",
    waiting_heading: "Waiting for the till",
    waiting_text: "We are waiting for the till to report your purchase. This page refreshes by itself.",
    waiting_until: "We wait until",
    reload: "Refresh now",
    feedback_heading: "Write your feedback",
    feedback_help: "Be specific: what was good, what could be better, and what should they do? More thoughtful feedback earns a higher reward.",
    feedback_label: "Your feedback",
    feedback_hint: "20 to 5,000 characters",
    characters: "characters",
    feedback_button: "Send feedback",
    result_heading: "Thank you for your feedback!",
    score_label: "Score",
    breakdown: ["Substance", "Specific", "Actionable", "Balanced"],
    reward_label: "Your reward",
    rewarded_text: "The reward is paid back to you for your purchase.",
    no_reward_text: "No reward this time: the score did not reach the lowest tier.",
    tier_names: ["none", "low", "mid", "high"],
    tier_label: "Tier",
    capped: [
        ("per-session", "The reward was limited by the cap per visit."),
        ("budget", "The reward was limited by the business's remaining budget."),
        ("business-daily-cap", "The reward was limited by the business's cap for the day."),
    ],
    withheld: [
        ("duplicate_feedback", "No reward: the text is too similar to feedback already given, here or elsewhere."),
        ("device_daily_limit", "No reward: you have already been rewarded here today."),
        ("business_daily_cap", "No reward: the business has reached its reward cap for today."),
        ("network_daily_limit", "No reward: your network has already been rewarded here today."),
        ("pending_review", "Your reward awaits the business's review: unusually many rewards right now. It is paid when the business approves it."),
        ("review_refused", "No reward: the business reviewed the reward and did not approve it."),
        ("purchase_refunded", "No reward: the purchase was refunded at the till."),
        ("no_funds", "No reward: the business has no money set aside for rewards right now."),
    ],
    reversed_text: "The purchase was refunded at the till, so the reward was taken back.",
    no_funds_notice: "This business is not giving rewards right now: it has no money set aside for them. You can still leave feedback, but without a reward.",
    wallet_heading: "Your cashback",
    wallet_balance: "Balance",
    wallet_minimum: "A payout is made when your balance reaches",
    entry_names: ["Top-up", "Reward", "Reward taken back", "Payout", "Paid out", "Payout failed, back on your balance", "Top-up refunded"],
    payout_states: ["on its way", "paid", "failed"],
    demo_note: "demo: no money is sent",
    payee_heading: "Get your cashback with Swish",
    payee_help: "Give your Swish number and your Swedish personal identity number (personnummer): Swish needs both for a payout and checks that the number is yours. We keep them encrypted and use them only for your payouts.",
    payee_set: "Your payouts go to your Swish number. You can change it here.",
    swish_number_label: "Swish number (mobile number)",
    personnummer_label: "Personal identity number (YYYYMMDD-NNNN)",
    payee_button: "Save",
    payout_failures: &[
        ("ACMT07", "The number is not connected to Swish. Check your Swish number."),
        ("ACMT01", "The number is not connected to Swish. Check your Swish number."),
        ("BE18", "The number is not connected to Swish. Check your Swish number."),
        ("VR01", "The personal identity number does not belong to the Swish number. Check your details."),
        ("VR02", "The personal identity number does not belong to the Swish number. Check your details."),
        ("BE22", "The personal identity number does not belong to the Swish number. Check your details."),
        ("RF02", "The personal identity number does not belong to the Swish number. Check your details."),
        ("AM02", "The amount is too large for a Swish payout."),
        ("AM06", "The amount is too small for a Swish payout."),
        ("RF07", "Your bank refused the payout."),
        ("RF08", "Your bank refused the payout."),
    ],
    expired_heading: "Time ran out",
    expired_text: "This visit was not completed in time.",
    new_visit: "Start over",
    purchase_shown: "Purchase",
    error_heading: "Something went wrong",
    not_found_heading: "We cannot find this QR code",
    not_found_text: "The code is unknown or no longer valid. Scan the code on site again, or ask the staff.",
    rate_limited_heading: "Too many attempts",
    rate_limited_text: "Please wait a moment and try again.",
    maintenance_heading: "Down for maintenance",
    maintenance_text: "Please try again in a while. Your purchase is not lost.",
    offer_before: "Get",
    offer_after: "of your purchase back",
    offer_paid: "The money is paid by Swish once your feedback is scored. It takes about 2 minutes.",
    privacy_link: "How we handle your data",
    retired_heading: "This QR code is no longer in use",
    retired_text: "The business removed the place this code belonged to. Ask the staff for a new code.",
    problems: &[
        ("invalid-swish-number", "That is not a Swedish mobile number. Write it like 070-123 45 67."),
        ("invalid-personnummer", "That is not a valid personal identity number. Write it like 19900101-1234."),
        ("payees-off", "Payouts with Swish are not switched on here."),
        ("qr-token-not-found", "We cannot find this QR code."),
        ("qr-token-retired", "This QR code is no longer in use."),
        ("session-not-found", "We cannot find your visit. Please start over."),
        ("invalid-amount", "Write the amount in kronor, for example 89 or 89.50."),
        ("purchase-amount-out-of-range", "The amount must be between 1 and 100,000 SEK."),
        ("invalid-timestamp", "Enter the date and time of the purchase."),
        ("purchase-in-future", "The time of purchase is in the future. Please check the receipt."),
        ("purchase-outside-window", "The purchase is too old to be rewarded here."),
        ("invalid-id", "The receipt number may only contain digits, letters and symbols, no spaces."),
        ("feedback-length", "Feedback must be between 20 and 5,000 characters."),
        ("session-expired", "The time for this visit has run out. Please start over."),
        ("purchase-already-confirmed", "The purchase is already confirmed."),
        ("transaction-id-reused", "This receipt has already been used for feedback."),
        ("purchase-not-confirmed", "Please confirm the purchase first."),
        ("feedback-already-submitted", "You have already given feedback for this visit."),
        ("purchase-not-reported", "The till has not reported this purchase. Check the receipt number, or ask the staff."),
        ("purchase-tries-exhausted", "This visit had too many receipts the till did not confirm. Please ask the staff."),
        ("purchase-already-claimed", "This purchase has already been used for feedback."),
        ("declared-amount-needs-till", "Purchases this large cannot be confirmed here: the business must report them from its till. Please ask the staff."),
        ("cross-site-form", "The form came from another website and was not sent. Please try again from here."),
        ("busy", "It is busy right now. Please try again in a moment."),
        ("unavailable", "The service is temporarily unavailable. Please try again in a moment."),
        ("rate-limited", "Too many attempts. Please wait a moment and try again."),
    ],
    problem_default: "Something went wrong. Please try again in a moment.",
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_languages_name_the_same_problems_withheld_reasons_and_caps() {
        let keys = |t: &[(&str, &str)]| t.iter().map(|(k, _)| k.to_string()).collect::<Vec<_>>();
        assert_eq!(keys(SV.problems), keys(EN.problems));
        assert_eq!(keys(&SV.withheld), keys(&EN.withheld));
        assert_eq!(keys(&SV.capped), keys(&EN.capped));
        for t in [&SV, &EN] {
            assert!(t.problems.iter().all(|(_, v)| !v.is_empty()));
            assert_eq!(t.problem("no-such-kind"), t.problem_default);
        }
        assert_ne!(SV.problem("feedback-length"), EN.problem("feedback-length"));
    }

    #[test]
    fn every_withheld_reason_and_cap_the_api_names_has_words() {
        use crate::actors::business::Withheld;
        use crate::domain::Cap;
        for w in [
            Withheld::DuplicateFeedback,
            Withheld::DeviceDailyLimit,
            Withheld::BusinessDailyCap,
            Withheld::NetworkDailyLimit,
            Withheld::PendingReview,
            Withheld::ReviewRefused,
            Withheld::PurchaseRefunded,
        ] {
            let key = serde_json::to_value(w).expect("json");
            assert_ne!(SV.withheld(key.as_str().expect("str")), SV.problem_default, "{key}");
        }
        for c in [Cap::PerSession, Cap::Budget, Cap::BusinessDailyCap] {
            let key = serde_json::to_value(c).expect("json");
            assert_ne!(EN.capped(key.as_str().expect("str")), EN.problem_default, "{key}");
        }
    }

    #[test]
    fn languages_parse_from_their_tags_only() {
        assert_eq!(Lang::parse("en"), Some(Lang::En));
        assert_eq!(Lang::parse("sv"), Some(Lang::Sv));
        assert_eq!(Lang::parse("EN<script>"), None);
        assert_eq!(Lang::Sv.other().tag(), "en");
    }
}
