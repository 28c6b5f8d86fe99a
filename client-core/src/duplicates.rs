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
];

/// Chinese legal forms, longest first so `股份有限公司` goes before `有限公司` could leave
/// `股份` behind. They may follow one another (`集团有限公司`, `分公司`).
const CHINESE_LEGAL_FORMS: &[&str] = &[
    "股份有限公司",
    "有限责任公司",
    "有限公司",
    "分公司",
    "集团",
    "公司",
    "股份",
];

/// Province-level divisions and the larger cities, which prefix many registered names
/// (`广东省深圳市…`) without telling two companies apart; each also with its suffix
/// (`省`, `市`, `自治区`).
const PLACES: &[&str] = &[
    "中国",
    "北京",
    "天津",
    "上海",
    "重庆",
    "河北",
    "山西",
    "辽宁",
    "吉林",
    "黑龙江",
    "江苏",
    "浙江",
    "安徽",
    "福建",
    "江西",
    "山东",
    "河南",
    "湖北",
    "湖南",
    "广东",
    "海南",
    "四川",
    "贵州",
    "云南",
    "陕西",
    "甘肃",
    "青海",
    "台湾",
    "内蒙古",
    "广西",
    "西藏",
    "宁夏",
    "新疆",
    "香港",
    "澳门",
    "深圳",
    "广州",
    "东莞",
    "佛山",
    "珠海",
    "惠州",
    "中山",
    "汕头",
    "厦门",
    "福州",
    "泉州",
    "杭州",
    "宁波",
    "温州",
    "南京",
    "苏州",
    "无锡",
    "常州",
    "合肥",
    "济南",
    "青岛",
    "烟台",
    "郑州",
    "武汉",
    "长沙",
    "成都",
    "西安",
    "昆明",
    "贵阳",
    "南宁",
    "南昌",
    "石家庄",
    "太原",
    "沈阳",
    "大连",
    "长春",
    "哈尔滨",
    "呼和浩特",
    "兰州",
    "乌鲁木齐",
    "海口",
    "三亚",
];

const PLACE_SUFFIXES: &[&str] = &[
    "特别行政区",
    "壮族自治区",
    "回族自治区",
    "维吾尔自治区",
    "自治区",
    "省",
    "市",
];

/// A company name reduced to what identifies it: compatibility forms folded (full-width
/// letters, digits and brackets), lower case, no punctuation or spaces, no legal form
/// (`ACME Tools, Ltd.` → `acmetools`), and for Chinese names no legal form, place prefix or
/// bracketed place (`广东省深圳市华强电子科技股份有限公司`, `华强电子科技（深圳）有限公司` →
/// `华强电子科技`).
pub fn normalise_name(name: &str) -> String {
    let lower = crate::text::fold(name).to_lowercase();
    let unbracketed = strip_bracketed_places(&lower);
    let mut words: Vec<String> = unbracketed
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
    while let Some(stripped) = CHINESE_LEGAL_FORMS
        .iter()
        .find_map(|form| joined.strip_suffix(form))
        .filter(|rest| !rest.is_empty())
    {
        joined = stripped.to_owned();
    }
    while let Some(stripped) = strip_place(&joined) {
        joined = stripped.to_owned();
    }
    joined
}

/// `s` without a leading place name (with or without its `省`/`市` suffix), if something that
/// is not itself only a legal form remains.
fn strip_place(s: &str) -> Option<&str> {
    PLACES.iter().find_map(|place| {
        let rest = s.strip_prefix(place)?;
        let rest = PLACE_SUFFIXES
            .iter()
            .find_map(|suffix| rest.strip_prefix(suffix))
            .unwrap_or(rest);
        (rest.chars().count() >= 2).then_some(rest)
    })
}

/// `s` without bracketed place names (`(中国)`, `(深圳)`); other brackets are kept, as
/// punctuation is dropped later anyway but their words still tell companies apart.
fn strip_bracketed_places(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(open) = rest.find('(') {
        let Some(close) = rest[open..].find(')').map(|i| open + i) else {
            break;
        };
        let inner = rest[open + 1..close].trim();
        let is_place = PLACES.iter().any(|place| {
            inner
                .strip_prefix(place)
                .is_some_and(|tail| tail.is_empty() || PLACE_SUFFIXES.contains(&tail))
        });
        out.push_str(&rest[..open]);
        if !is_place {
            out.push_str(&rest[open..=close]);
        }
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    out
}

/// The keys two records of the same customer would share: `name:<normalised name>`,
/// `phone:<last 8 digits>` and `email:<lower-case address>`.
pub fn match_keys<'a>(name: &str, contacts: impl IntoIterator<Item = &'a Contact>) -> Vec<String> {
    let mut keys = vec![format!("name:{}", normalise_name(name))];
    for contact in contacts {
        if let Some(phone) = &contact.phone {
            let digits: String = crate::text::fold(phone)
                .chars()
                .filter(char::is_ascii_digit)
                .collect();
            if digits.len() >= 6 {
                keys.push(format!(
                    "phone:{}",
                    &digits[digits.len().saturating_sub(8)..]
                ));
            }
        }
        if let Some(email) = &contact.email {
            keys.push(format!("email:{}", crate::text::fold(email).to_lowercase()));
        }
    }
    keys.sort();
    keys.dedup();
    keys
}
