//! Guards readable record codes against collisions between devices minting offline, against
//! codes that do not parse back, and against silent changes to prefixes, format or device tags.

use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::NaiveDate;
use outpost_client::code::{
    CUSTOMER_FALLBACK, Code, CodeKind, CodeProblem, LEAD_FALLBACK, TAG_LEN, customer_code,
    device_tag, lead_code,
};
use outpost_protocol::DeviceId;
use proptest::prelude::*;

// Fixtures.

/// The device of the examples; its tag is pinned because minted codes carry it.
const DEVICE: DeviceId = DeviceId::from_u128(0x0123_4567_89ab_cdef_0011_2233_4455_6677);
const DEVICE_TAG: &str = "FQJJ8P";

fn date(year: i32, month: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, month, day).unwrap()
}

/// Asserts a minted code's text and that the text parses back to the same code.
#[track_caller]
fn check(minted: Code, expected: &str) {
    let expected = expected.replace("{TAG}", DEVICE_TAG);
    assert_eq!(minted.to_string(), expected);
    assert_eq!(minted.as_str(), expected);
    assert_eq!(expected.parse::<Code>(), Ok(minted));
}

// Examples.

#[test]
fn customer_prefixes_come_from_the_industry() {
    let cases: &[(Option<&str>, &str)] = &[
        // An industry of GB/T 4754-2017 gives its section's abbreviation, however written.
        (Some("Information Technology"), "IT2024-007-{TAG}"),
        (Some("information technology"), "IT2024-007-{TAG}"),
        (Some("IT"), "IT2024-007-{TAG}"),
        (Some("I"), "IT2024-007-{TAG}"),
        (Some("信息技术"), "IT2024-007-{TAG}"),
        (Some("I 信息传输、软件和信息技术服务业"), "IT2024-007-{TAG}"),
        (Some("Manufacturing"), "MF2024-007-{TAG}"),
        (
            Some("Manufacturing / New-energy vehicles"),
            "MF2024-007-{TAG}",
        ),
        (Some("制造业"), "MF2024-007-{TAG}"),
        (Some("C36"), "MF2024-007-{TAG}"),
        (Some(" / Retail"), "WR2024-007-{TAG}"),
        // Other text gives its initials or first letters.
        (Some("Food & Beverage"), "FB2024-007-{TAG}"),
        (Some("Food and Beverage"), "FB2024-007-{TAG}"),
        (Some("Oil, Gas & Mining"), "OGM2024-007-{TAG}"),
        (
            Some("Research and Development of New Materials for Aerospace Engineering Use"),
            "RDNMAE2024-007-{TAG}",
        ),
        (Some("The"), "THE2024-007-{TAG}"),
        (Some("3D printing"), "DP2024-007-{TAG}"),
        (Some("Café Equipment"), "EQUI2024-007-{TAG}"),
        (Some("Café"), "CU2024-007-{TAG}"),
        (Some("新材料"), "CU2024-007-{TAG}"),
        (Some("X"), "CU2024-007-{TAG}"),
        (Some("  "), "CU2024-007-{TAG}"),
        (None, "CU2024-007-{TAG}"),
    ];
    for &(industry, expected) in cases {
        check(customer_code(industry, 2024, 7, DEVICE), expected);
    }
    assert_eq!(CUSTOMER_FALLBACK, "CU");
}

#[test]
fn lead_prefixes_come_from_the_source() {
    let cases = [
        ("Expo", "EXPO-20240315-001-{TAG}"),
        ("EXPO", "EXPO-20240315-001-{TAG}"),
        ("Trade show", "TS-20240315-001-{TAG}"),
        ("online campaign", "OC-20240315-001-{TAG}"),
        ("Referral", "REFE-20240315-001-{TAG}"),
        ("Inbound inquiry / web form", "II-20240315-001-{TAG}"),
        ("展会", "LD-20240315-001-{TAG}"),
        ("", "LD-20240315-001-{TAG}"),
    ];
    for (source, expected) in cases {
        check(lead_code(source, date(2024, 3, 15), 1, DEVICE), expected);
    }
    assert_eq!(LEAD_FALLBACK, "LD");
}

#[test]
fn sequences_pad_to_three_digits_and_grow_past_999() {
    let cases = [
        (0, "IT2024-000-{TAG}", "EXPO-20240315-000-{TAG}"),
        (7, "IT2024-007-{TAG}", "EXPO-20240315-007-{TAG}"),
        (999, "IT2024-999-{TAG}", "EXPO-20240315-999-{TAG}"),
        (1000, "IT2024-1000-{TAG}", "EXPO-20240315-1000-{TAG}"),
        (
            u32::MAX,
            "IT2024-4294967295-{TAG}",
            "EXPO-20240315-4294967295-{TAG}",
        ),
    ];
    for (seq, customer, lead) in cases {
        let minted = customer_code(Some("IT"), 2024, seq, DEVICE);
        assert_eq!(minted.seq(), seq);
        check(minted, customer);
        let minted = lead_code("Expo", date(2024, 3, 15), seq, DEVICE);
        assert_eq!(minted.seq(), seq);
        check(minted, lead);
    }
}

#[test]
fn periods_are_four_digit_years_and_eight_digit_dates() {
    check(customer_code(Some("IT"), 0, 1, DEVICE), "IT0000-001-{TAG}");
    check(
        customer_code(Some("IT"), 999, 1, DEVICE),
        "IT0999-001-{TAG}",
    );
    check(
        customer_code(Some("IT"), 9999, 1, DEVICE),
        "IT9999-001-{TAG}",
    );
    check(
        lead_code("Expo", date(1, 1, 1), 1, DEVICE),
        "EXPO-00010101-001-{TAG}",
    );
    check(
        lead_code("Expo", date(2024, 2, 29), 1, DEVICE),
        "EXPO-20240229-001-{TAG}",
    );
    check(
        lead_code("Expo", date(9999, 12, 31), 1, DEVICE),
        "EXPO-99991231-001-{TAG}",
    );
}

#[test]
#[should_panic(expected = "outside 0 to 9999")]
fn years_the_format_cannot_write_are_refused() {
    customer_code(Some("IT"), 10_000, 1, DEVICE);
}

#[test]
fn codes_know_their_kind_sequence_and_tag() {
    let customer = customer_code(Some("IT"), 2024, 12, DEVICE);
    assert_eq!(customer.kind(), CodeKind::Customer);
    assert_eq!(customer.tag(), DEVICE_TAG);
    let lead = lead_code("Expo", date(2024, 3, 15), 12, DEVICE);
    assert_eq!(lead.kind(), CodeKind::Lead);
    assert_eq!((lead.seq(), lead.tag()), (12, DEVICE_TAG));
}

#[test]
fn device_tags_are_pinned_crockford_base32() {
    assert_eq!(device_tag(DEVICE), DEVICE_TAG);
    assert_eq!(device_tag(DEVICE), device_tag(DEVICE));
    // Ids that differ only in a few bits still get unrelated tags.
    let tags: HashSet<String> = (0..1_000u128)
        .map(|n| device_tag(DeviceId::from_u128(n)))
        .collect();
    assert_eq!(tags.len(), 1_000, "sequential ids share a tag");
    for tag in &tags {
        assert_eq!(tag.len(), TAG_LEN);
        assert!(
            tag.bytes()
                .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase() && !b"ILOU".contains(&b)),
            "{tag} is not Crockford base32"
        );
    }
}

#[test]
fn parsing_accepts_what_people_type_back() {
    let cases = [
        ("it2024-007-k7q2mx", "IT2024-007-K7Q2MX"),
        ("Expo-20240315-001-k7q2mx", "EXPO-20240315-001-K7Q2MX"),
        ("IT2024-007-OIL0AB", "IT2024-007-0110AB"),
        ("expo-20240315-001-oilzzz", "EXPO-20240315-001-011ZZZ"),
    ];
    for (typed, canonical) in cases {
        let code: Code = typed.parse().unwrap();
        assert_eq!(code.to_string(), canonical, "{typed}");
    }
}

#[test]
fn parse_errors_name_the_problem() {
    let cases = [
        ("", CodeProblem::Shape),
        ("IT2024001", CodeProblem::Shape),
        ("IT2024-007", CodeProblem::Shape),
        ("EXPO-2024-03-15-001-K7Q2MX", CodeProblem::Shape),
        ("I2024-007-K7Q2MX", CodeProblem::Prefix("I".into())),
        ("2024-007-K7Q2MX", CodeProblem::Prefix("".into())),
        (
            "ABCDEFG2024-007-K7Q2MX",
            CodeProblem::Prefix("ABCDEFG".into()),
        ),
        ("ÉT2024-007-K7Q2MX", CodeProblem::Prefix("ÉT".into())),
        ("E1-20240315-001-K7Q2MX", CodeProblem::Prefix("E1".into())),
        ("IT24-007-K7Q2MX", CodeProblem::Year("24".into())),
        ("IT-007-K7Q2MX", CodeProblem::Year("".into())),
        ("IT2024X-007-K7Q2MX", CodeProblem::Year("2024X".into())),
        (
            "EXPO-20240230-001-K7Q2MX",
            CodeProblem::Date("20240230".into()),
        ),
        ("EXPO-240315-001-K7Q2MX", CodeProblem::Date("240315".into())),
        (
            "EXPO-2024031X-001-K7Q2MX",
            CodeProblem::Date("2024031X".into()),
        ),
        ("IT2024-07-K7Q2MX", CodeProblem::Sequence("07".into())),
        ("IT2024-0007-K7Q2MX", CodeProblem::Sequence("0007".into())),
        ("IT2024-+07-K7Q2MX", CodeProblem::Sequence("+07".into())),
        (
            "IT2024-4294967296-K7Q2MX",
            CodeProblem::Sequence("4294967296".into()),
        ),
        ("IT2024-007-K7Q2M", CodeProblem::Tag("K7Q2M".into())),
        ("IT2024-007-K7Q2MXX", CodeProblem::Tag("K7Q2MXX".into())),
        (
            "EXPO-20240315-001-K7Q2MU",
            CodeProblem::Tag("K7Q2MU".into()),
        ),
    ];
    for (input, expected) in cases {
        let err = input.parse::<Code>().unwrap_err();
        assert_eq!(err.problem(), &expected, "{input}");
        let message = err.to_string();
        assert!(message.contains(&format!("`{input}`")), "{message}");
        assert!(message.contains(&expected.to_string()), "{message}");
    }
}

// Properties.

/// Free text a rep might type as an industry or lead source, including text with no usable
/// letters.
fn label() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "Information Technology",
            "Manufacturing / New-energy vehicles",
            "Food & Beverage",
            "Expo",
            "Trade show",
            "Referral",
            "制造业",
            "",
        ])
        .prop_map(str::to_owned),
        "[A-Za-z &/,-]{0,30}",
        any::<String>(),
    ]
}

/// One record a device mints: a customer (industry, year) or a lead (source, date).
#[derive(Debug, Clone)]
enum Record {
    Customer { industry: Option<String>, year: i32 },
    Lead { source: String, date: NaiveDate },
}

fn record() -> impl Strategy<Value = Record> {
    prop_oneof![
        (prop::option::of(label()), 2020..2030i32)
            .prop_map(|(industry, year)| Record::Customer { industry, year }),
        (label(), 0..3_650i64).prop_map(|(source, days)| Record::Lead {
            source,
            date: date(2020, 1, 1) + chrono::Duration::days(days),
        }),
    ]
}

/// Devices with distinct ids, each with the records it mints; every device's counters start
/// at the same number, so only the device tag can keep their codes apart.
fn fleet() -> impl Strategy<Value = (u32, Vec<(DeviceId, Vec<Record>)>)> {
    let start = prop_oneof![0..2_000u32, (u32::MAX - 100)..=(u32::MAX - 60)];
    let devices =
        prop::collection::btree_map(any::<u128>(), prop::collection::vec(record(), 0..30), 1..40);
    (start, devices).prop_map(|(start, devices)| {
        let devices = devices
            .into_iter()
            .map(|(id, records)| (DeviceId::from_u128(id), records))
            .collect();
        (start, devices)
    })
}

proptest! {
    #[test]
    fn codes_from_a_fleet_never_collide_and_always_parse_back((start, devices) in fleet()) {
        let tags: BTreeSet<String> = devices.iter().map(|(id, _)| device_tag(*id)).collect();
        // A 30-bit tag clash is the documented failure mode, which the server catches at
        // registration; it is not what this property is about.
        prop_assume!(tags.len() == devices.len());

        let mut minted: HashMap<Code, DeviceId> = HashMap::new();
        for (device, records) in &devices {
            // One counter per kind of record, as the store keeps them.
            let (mut customers, mut leads) = (start, start);
            for record in records {
                let (code, kind, seq) = match record {
                    Record::Customer { industry, year } => {
                        customers += 1;
                        let code = customer_code(industry.as_deref(), *year, customers, *device);
                        (code, CodeKind::Customer, customers)
                    }
                    Record::Lead { source, date } => {
                        leads += 1;
                        (lead_code(source, *date, leads, *device), CodeKind::Lead, leads)
                    }
                };
                let parsed: Code = code.to_string().parse().unwrap();
                prop_assert_eq!(&parsed, &code);
                let retyped: Code = code.as_str().to_lowercase().parse().unwrap();
                prop_assert_eq!(&retyped, &code);
                prop_assert_eq!(code.kind(), kind);
                prop_assert_eq!(code.seq(), seq);
                prop_assert_eq!(code.tag(), device_tag(*device));
                if let Some(other) = minted.insert(code.clone(), *device) {
                    prop_assert!(false, "{code} minted by {other:?} and {device:?}");
                }
            }
        }
    }

    #[test]
    fn any_text_gives_a_prefix_of_two_to_six_letters(text in any::<String>(), seq: u32) {
        let code = customer_code(Some(&text), 2024, seq, DEVICE);
        let prefix = code.as_str().split(|c: char| c.is_ascii_digit()).next().unwrap();
        prop_assert!((2..=6).contains(&prefix.len()), "{code}");
        prop_assert!(prefix.bytes().all(|b| b.is_ascii_uppercase()), "{code}");
        let lead = lead_code(&text, date(2024, 3, 15), seq, DEVICE);
        let prefix = lead.as_str().split('-').next().unwrap();
        prop_assert!((2..=6).contains(&prefix.len()), "{lead}");
        prop_assert_eq!(lead.as_str().parse::<Code>(), Ok(lead.clone()));
    }
}
