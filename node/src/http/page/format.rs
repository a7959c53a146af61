//! Numbers as a reader of the page's language writes them: the one place pages format money,
//! scores and percentages. Swedish: decimal comma, a space between thousands and before the
//! unit ("1 234,50 kr", "52,2", "8 %"); English: "1,234.50 SEK", "52.2", "8%". A plain space
//! (not U+00A0): what customers type back into the amount field, and what tests and screen
//! readers read as written.

use super::texts::Lang;
use crate::domain::Ore;

/// The thousands separator of Swedish pages.
pub const SV_THOUSANDS: char = ' ';

/// `digits` (ASCII digits only) with `sep` between groups of three from the right.
fn grouped(digits: &str, sep: char) -> String {
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(sep);
        }
        out.push(c);
    }
    out
}

/// A decimal written as `int.frac` (an optional leading `-`) in `lang`'s way.
fn localized(lang: Lang, plain: &str) -> String {
    let (sign, rest) = plain.strip_prefix('-').map_or(("", plain), |r| ("-", r));
    let (int, frac) = rest.split_once('.').map_or((rest, None), |(i, f)| (i, Some(f)));
    let (sep, point) = match lang {
        Lang::Sv => (SV_THOUSANDS, ','),
        Lang::En => (',', '.'),
    };
    let mut out = format!("{sign}{}", grouped(int, sep));
    if let Some(f) = frac {
        out.push(point);
        out.push_str(f);
    }
    out
}

/// An amount: "1 234,50 kr" (Swedish), "1,234.50 SEK" (English).
pub fn money(lang: Lang, amount: Ore) -> String {
    let n = localized(lang, &amount.to_sek_string());
    match lang {
        Lang::Sv => format!("{n}{SV_THOUSANDS}kr"),
        Lang::En => format!("{n} SEK"),
    }
}

/// An amount without its unit, for a column headed with it: "1 234,50" (Swedish).
pub fn amount(lang: Lang, amount: Ore) -> String {
    localized(lang, &amount.to_sek_string())
}

/// An amount as an input field holds it: "1234,50" (Swedish), "1234.50" (English), no grouping
/// (what a customer types back).
pub fn money_input(lang: Lang, amount: Ore) -> String {
    let sek = amount.to_sek_string();
    match lang {
        Lang::Sv => sek.replace('.', ","),
        Lang::En => sek,
    }
}

/// A measured value with `decimals` decimals: "52,2" (Swedish), "52.2" (English).
pub fn decimal(lang: Lang, value: f64, decimals: usize) -> String {
    localized(lang, &format!("{value:.decimals$}"))
}

/// A share in basis points as a percentage, decimals only when it has them: "8 %", "2,5 %"
/// (Swedish), "8%", "2.5%" (English).
pub fn percent(lang: Lang, basis_points: u32) -> String {
    let whole = basis_points / 100;
    let frac = basis_points % 100;
    let plain = match frac {
        0 => whole.to_string(),
        f if f % 10 == 0 => format!("{whole}.{}", f / 10),
        f => format!("{whole}.{f:02}"),
    };
    let n = localized(lang, &plain);
    match lang {
        Lang::Sv => format!("{n}{SV_THOUSANDS}%"),
        Lang::En => format!("{n}%"),
    }
}

/// A whole count: "5 000" (Swedish), "5,000" (English).
pub fn count(lang: Lang, n: u64) -> String {
    localized(lang, &n.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NB: char = SV_THOUSANDS;

    #[test]
    fn swedish_money_has_a_decimal_comma_and_spaced_thousands() {
        assert_eq!(money(Lang::Sv, Ore::from_ore(836)), format!("8,36{NB}kr"));
        assert_eq!(money(Lang::Sv, Ore::from_ore(123_450)), format!("1{NB}234,50{NB}kr"));
        assert_eq!(money(Lang::Sv, Ore::from_ore(123_456_789)), format!("1{NB}234{NB}567,89{NB}kr"));
        assert_eq!(money(Lang::Sv, Ore::from_ore(-123_450)), format!("-1{NB}234,50{NB}kr"));
        assert_eq!(money(Lang::Sv, Ore::ZERO), format!("0,00{NB}kr"));
        assert_eq!(money(Lang::En, Ore::from_ore(123_450)), "1,234.50 SEK");
        assert_eq!(money_input(Lang::Sv, Ore::from_ore(123_450)), "1234,50");
        assert_eq!(amount(Lang::Sv, Ore::from_ore(-500_000)), "-5 000,00");
    }

    #[test]
    fn scores_and_percentages_follow_the_language() {
        assert_eq!(decimal(Lang::Sv, 52.25, 1), "52,2");
        assert_eq!(decimal(Lang::En, 52.2, 1), "52.2");
        assert_eq!(decimal(Lang::Sv, 1234.5, 1), format!("1{NB}234,5"));
        assert_eq!(percent(Lang::Sv, 800), format!("8{NB}%"));
        assert_eq!(percent(Lang::Sv, 250), format!("2,5{NB}%"));
        assert_eq!(percent(Lang::Sv, 1025), format!("10,25{NB}%"));
        assert_eq!(percent(Lang::En, 800), "8%");
        assert_eq!(percent(Lang::Sv, 0), format!("0{NB}%"));
        assert_eq!(count(Lang::Sv, 5000), format!("5{NB}000"));
        assert_eq!(count(Lang::En, 5000), "5,000");
        assert_eq!(count(Lang::Sv, 500), "500");
    }
}
