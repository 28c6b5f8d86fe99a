//! Industries by China's national classification, GB/T 4754-2017: twenty sections `A`–`T`,
//! each labelled in Chinese and English, optionally narrowed to one of its divisions (`C36`).
//!
//! An account stores the classification's code (`I`, `C36`); what people type — the code,
//! either label, a label with its code (`I 信息传输、软件和信息技术服务业`), a common
//! synonym (`信息技术`, `IT`, `Manufacturing / New-energy vehicles`) — is mapped to it by
//! [`Industry::from_words`], and anything else is reported, so one industry never becomes
//! two slices of a chart.

use std::fmt;
use std::sync::OnceLock;

use crate::model::Lang;

/// The sections with their labels, as published (`data/gbt4754-2017-sections.tsv`).
const SECTIONS_TSV: &str = include_str!("../data/gbt4754-2017-sections.tsv");

/// The divisions (two-digit codes) each section holds, and the abbreviation its readable
/// customer codes start with (the sales sheets' `IT2024001`).
const SECTION_FACTS: [(char, u8, u8, &str); 20] = [
    ('A', 1, 5, "AG"),
    ('B', 6, 12, "MI"),
    ('C', 13, 43, "MF"),
    ('D', 44, 46, "EU"),
    ('E', 47, 50, "CO"),
    ('F', 51, 52, "WR"),
    ('G', 53, 60, "TL"),
    ('H', 61, 62, "HC"),
    ('I', 63, 65, "IT"),
    ('J', 66, 69, "FI"),
    ('K', 70, 70, "RE"),
    ('L', 71, 72, "LB"),
    ('M', 73, 75, "SR"),
    ('N', 76, 79, "EP"),
    ('O', 80, 82, "RS"),
    ('P', 83, 83, "ED"),
    ('Q', 84, 85, "HS"),
    ('R', 86, 90, "CS"),
    ('S', 91, 96, "PA"),
    ('T', 97, 97, "IO"),
];

/// Words people use for a section that are not its label.
const SYNONYMS: &[(&str, char)] = &[
    ("农业", 'A'),
    ("agriculture", 'A'),
    ("采矿", 'B'),
    ("mining", 'B'),
    ("制造", 'C'),
    ("manufacturing", 'C'),
    ("电力", 'D'),
    ("能源", 'D'),
    ("energy", 'D'),
    ("utilities", 'D'),
    ("建筑", 'E'),
    ("construction", 'E'),
    ("批发", 'F'),
    ("零售", 'F'),
    ("贸易", 'F'),
    ("retail", 'F'),
    ("wholesale", 'F'),
    ("trade", 'F'),
    ("交通运输", 'G'),
    ("物流", 'G'),
    ("logistics", 'G'),
    ("transport", 'G'),
    ("餐饮", 'H'),
    ("酒店", 'H'),
    ("hospitality", 'H'),
    ("信息技术", 'I'),
    ("软件", 'I'),
    ("互联网", 'I'),
    ("it", 'I'),
    ("information technology", 'I'),
    ("software", 'I'),
    ("金融", 'J'),
    ("银行", 'J'),
    ("保险", 'J'),
    ("finance", 'J'),
    ("banking", 'J'),
    ("insurance", 'J'),
    ("房地产", 'K'),
    ("real estate", 'K'),
    ("商务服务", 'L'),
    ("business services", 'L'),
    ("科研", 'M'),
    ("research", 'M'),
    ("环保", 'N'),
    ("教育", 'P'),
    ("education", 'P'),
    ("医疗", 'Q'),
    ("卫生", 'Q'),
    ("healthcare", 'Q'),
    ("health", 'Q'),
    ("文化", 'R'),
    ("娱乐", 'R'),
    ("media", 'R'),
    ("政府", 'S'),
    ("government", 'S'),
];

/// One industry: a section, and perhaps one of its divisions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Industry {
    section: char,
    division: Option<u8>,
}

/// A section of the classification, with its labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub code: char,
    pub zh: String,
    pub en: String,
    /// The abbreviation customer codes of this section start with.
    pub abbreviation: &'static str,
    divisions: std::ops::RangeInclusive<u8>,
}

/// Every section, `A` to `T`.
pub fn sections() -> &'static [Section] {
    static SECTIONS: OnceLock<Vec<Section>> = OnceLock::new();
    SECTIONS.get_or_init(|| {
        SECTIONS_TSV
            .lines()
            .skip(1)
            .filter(|line| !line.trim().is_empty())
            .zip(SECTION_FACTS)
            .map(|(line, (code, first, last, abbreviation))| {
                let mut cells = line.split('\t');
                let letter = cells.next().and_then(|c| c.chars().next());
                assert_eq!(letter, Some(code), "sections out of order in the table");
                Section {
                    code,
                    zh: cells.next().unwrap_or_default().trim().to_owned(),
                    en: cells.next().unwrap_or_default().trim().to_owned(),
                    abbreviation,
                    divisions: first..=last,
                }
            })
            .collect()
    })
}

impl Industry {
    /// The section's letter.
    pub fn section(&self) -> &'static Section {
        sections()
            .iter()
            .find(|s| s.code == self.section)
            .expect("an Industry holds a known section")
    }

    /// The division's two-digit number, if one was chosen.
    pub fn division(&self) -> Option<u8> {
        self.division
    }

    /// The industry a person wrote, if it is one: see the [module docs](self).
    pub fn from_words(text: &str) -> Option<Industry> {
        let folded = crate::text::fold(text);
        let first_level = folded
            .split('/')
            .map(str::trim)
            .find(|level| !level.is_empty())
            .unwrap_or("");
        if let Some(industry) = Industry::from_code(first_level) {
            return Some(industry);
        }
        // A code written before its label: `I 信息传输…`, `C36 汽车制造业`.
        if let Some((code, rest)) = first_level.split_once(' ')
            && let Some(industry) = Industry::from_code(code)
            && (rest.trim().is_empty()
                || Industry::from_label(rest).is_none_or(|l| l.section == industry.section))
        {
            return Some(industry);
        }
        Industry::from_label(first_level)
    }

    /// The code as stored (`I`, `C36`), any case.
    fn from_code(code: &str) -> Option<Industry> {
        let mut chars = code.chars();
        let letter = chars.next()?.to_ascii_uppercase();
        let section = sections().iter().find(|s| s.code == letter)?;
        let digits = chars.as_str();
        if digits.is_empty() {
            return Some(Industry {
                section: letter,
                division: None,
            });
        }
        let division: u8 = digits.parse().ok().filter(|_| digits.len() == 2)?;
        section.divisions.contains(&division).then_some(Industry {
            section: letter,
            division: Some(division),
        })
    }

    fn from_label(text: &str) -> Option<Industry> {
        let wanted = text.trim().to_lowercase();
        if wanted.is_empty() {
            return None;
        }
        let by_label = sections()
            .iter()
            .find(|s| s.zh == wanted || s.en.to_lowercase() == wanted);
        let section = by_label.map(|s| s.code).or_else(|| {
            SYNONYMS
                .iter()
                .find(|(word, _)| *word == wanted)
                .map(|(_, section)| *section)
        })?;
        Some(Industry {
            section,
            division: None,
        })
    }

    /// The label a person reads: `信息传输、软件和信息技术服务业`, or with a division
    /// `制造业 · 36`.
    pub fn label(&self, lang: Lang) -> String {
        let section = self.section();
        let name = match lang {
            Lang::Zh => &section.zh,
            Lang::En => &section.en,
        };
        match self.division {
            Some(division) => format!("{name} · {division:02}"),
            None => name.clone(),
        }
    }
}

/// The stored code: `I`, `C36`.
impl fmt::Display for Industry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.division {
            Some(division) => write!(f, "{}{division:02}", self.section),
            None => write!(f, "{}", self.section),
        }
    }
}

/// Why a written industry is not one: it names the sections to choose from.
pub fn unknown_industry(text: &str) -> String {
    format!(
        "`{text}` is not an industry of GB/T 4754-2017; write a section letter A-T \
         (optionally with a division, e.g. C36) or its label: {}",
        sections()
            .iter()
            .map(|s| format!("{} {}", s.code, s.zh))
            .collect::<Vec<_>>()
            .join(", ")
    )
}
