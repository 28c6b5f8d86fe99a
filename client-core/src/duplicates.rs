//! Duplicates: the same customer is recognised by its normalised name or a shared work phone
//! or email, so two reps who create it offline (or one rep twice) are warned.

use crate::model::Contact;

const LEGAL_SUFFIXES: &[&str] = &[
    "co",
    "company",
    "corp",
    "corporation",
    "gmbh",
    "inc",
    "incorporated",
    "limited",
    "llc",
    "ltd",
    "plc",
    "sa",
    "sarl",
    "有限公司",
    "公司",
];

/// A company name reduced to what identifies it: lower case, no punctuation, spaces or legal
/// form (`ACME Tools, Ltd.` → `acmetools`).
pub fn normalise_name(name: &str) -> String {
    let lower = name.to_lowercase();
    let mut words: Vec<String> = lower
        .split(|c: char| c.is_whitespace() || c == ',' || c == '.')
        .filter(|w| !w.is_empty())
        .map(|w| w.chars().filter(|c| c.is_alphanumeric()).collect())
        .filter(|w: &String| !w.is_empty())
        .collect();
    while words.len() > 1
        && words
            .last()
            .is_some_and(|w| LEGAL_SUFFIXES.contains(&w.as_str()))
    {
        words.pop();
    }
    let mut joined = words.concat();
    for suffix in LEGAL_SUFFIXES.iter().filter(|s| !s.is_ascii()) {
        if let Some(stripped) = joined.strip_suffix(suffix).filter(|s| !s.is_empty()) {
            joined = stripped.to_owned();
        }
    }
    joined
}

/// The keys two records of the same customer would share: `name:<normalised name>`,
/// `phone:<last 8 digits>` and `email:<lower-case address>`.
pub fn match_keys<'a>(name: &str, contacts: impl IntoIterator<Item = &'a Contact>) -> Vec<String> {
    let mut keys = vec![format!("name:{}", normalise_name(name))];
    for contact in contacts {
        if let Some(phone) = &contact.phone {
            let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
            if digits.len() >= 6 {
                keys.push(format!(
                    "phone:{}",
                    &digits[digits.len().saturating_sub(8)..]
                ));
            }
        }
        if let Some(email) = &contact.email {
            keys.push(format!("email:{}", email.trim().to_lowercase()));
        }
    }
    keys.sort();
    keys.dedup();
    keys
}
