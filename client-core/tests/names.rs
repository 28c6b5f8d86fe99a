//! How Outpost reads Chinese names and industries: duplicate keys for the spellings of one
//! company (legal forms, place prefixes, full-width forms), no false match between two
//! companies that share a city prefix, and industries by GB/T 4754-2017 however written.

use chrono::{TimeZone, Utc};
use outpost_client::duplicates::{match_keys, normalise_name};
use outpost_client::industry::{Industry, sections};
use outpost_client::model::{Contact, Lang, Level, Role, Source, Stage};
use outpost_client::{NewAccount, Store};

#[test]
fn spellings_of_one_chinese_company_share_a_name_key() {
    let spellings = [
        "深圳市华强电子科技有限公司",
        "深圳市华强电子科技股份有限公司",
        "华强电子科技有限公司",
        "广东省深圳市华强电子科技有限责任公司",
        "华强电子科技（深圳）有限公司",
        "深圳 华强电子科技 有限公司",
        "深圳华强电子科技集团有限公司",
        "华强电子科技(中国)有限公司",
    ];
    for name in spellings {
        assert_eq!(normalise_name(name), "华强电子科技", "{name}");
    }
    // Full-width letters, digits and spaces fold into their plain forms.
    assert_eq!(
        normalise_name("ＡＢＣ　Ｔｏｏｌｓ，Ｌｔｄ．"),
        normalise_name("ABC Tools, Ltd.")
    );
    assert_eq!(normalise_name("ABC Tools, Ltd."), "abctools");
}

#[test]
fn different_companies_sharing_a_city_prefix_do_not_match() {
    let names = [
        "深圳市华强电子科技有限公司",
        "深圳市华为技术有限公司",
        "深圳市腾讯计算机系统有限公司",
        "广州市华强电子科技有限公司分公司",
    ];
    let keys: Vec<String> = names[..3].iter().map(|n| normalise_name(n)).collect();
    assert_eq!(keys, ["华强电子科技", "华为技术", "腾讯计算机系统"]);
    // A city prefix alone is never stripped down to nothing, nor is a legal form alone.
    assert_eq!(normalise_name("深圳市"), "深圳市");
    assert_eq!(normalise_name("有限公司"), "有限公司");
    // Names that merely start with a place's characters keep them when little would remain.
    assert_eq!(normalise_name("上海"), "上海");
}

#[test]
fn full_width_phones_and_emails_match_their_plain_forms() {
    let contact = |phone: &str, email: &str| Contact {
        name: "王总".into(),
        phone: Some(phone.into()),
        email: Some(email.into()),
        ..Contact::default()
    };
    let plain = match_keys("华强", [&contact("+86-755-8888-1234 转801", "wang@hq.cn")]);
    let wide = match_keys(
        "华强",
        [&contact(
            "＋８６－７５５－８８８８－１２３４",
            "ＷＡＮＧ＠ＨＱ．ＣＮ",
        )],
    );
    assert!(plain.contains(&"email:wang@hq.cn".to_owned()), "{plain:?}");
    assert!(wide.contains(&"email:wang@hq.cn".to_owned()), "{wide:?}");
    assert!(wide.contains(&"phone:88881234".to_owned()), "{wide:?}");
}

/// Through the store: the second spelling is caught as a likely duplicate.
#[test]
fn the_store_warns_of_a_chinese_duplicate() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("store.redb")).unwrap();
    let now = Utc.with_ymd_and_hms(2026, 11, 2, 9, 0, 0).unwrap();
    let new = |name: &str| NewAccount {
        name: name.into(),
        owner: "zhang".into(),
        ..NewAccount::default()
    };
    store
        .create_account(&new("深圳市华强电子科技有限公司"), now)
        .unwrap();
    let err = store
        .create_account(&new("深圳市华强电子科技股份有限公司"), now)
        .unwrap_err();
    assert!(
        err.to_string().contains("深圳市华强电子科技有限公司"),
        "{err}"
    );
    store
        .create_account(&new("深圳市华为技术有限公司"), now)
        .unwrap();
}

#[test]
fn industries_are_read_however_they_are_written() {
    let cases = [
        ("I", "I"),
        ("i", "I"),
        ("信息技术", "I"),
        ("IT / 信息技术", "I"),
        ("I 信息传输、软件和信息技术服务业", "I"),
        ("信息传输、软件和信息技术服务业", "I"),
        (
            "Information transmission, software and information technology services",
            "I",
        ),
        ("Manufacturing / New-energy vehicles", "C"),
        ("C36", "C36"),
        ("Ｃ３６", "C36"),
        ("制造业", "C"),
        ("批发和零售业", "F"),
    ];
    for (written, code) in cases {
        let industry = Industry::from_words(written).unwrap_or_else(|| panic!("{written}"));
        assert_eq!(industry.to_string(), code, "{written}");
    }
    for unknown in ["", "新材料", "Z", "C99", "I13", "Food & Beverage"] {
        assert_eq!(Industry::from_words(unknown), None, "{unknown}");
    }
    assert_eq!(sections().len(), 20);
    let i = Industry::from_words("I").unwrap();
    assert_eq!(i.label(Lang::Zh), "信息传输、软件和信息技术服务业");
    assert_eq!(
        i.label(Lang::En),
        "Information transmission, software and information technology services"
    );
    assert_eq!(
        Industry::from_words("C36").unwrap().label(Lang::Zh),
        "制造业 · 36"
    );
}

#[test]
fn an_unclassified_industry_is_refused_and_a_classified_one_stored_as_its_code() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("store.redb")).unwrap();
    let now = Utc.with_ymd_and_hms(2026, 11, 2, 9, 0, 0).unwrap();
    let new = |name: &str, industry: &str| NewAccount {
        name: name.into(),
        owner: "zhang".into(),
        industry: Some(industry.into()),
        ..NewAccount::default()
    };
    let err = store
        .create_account(&new("华强", "新材料"), now)
        .unwrap_err();
    assert!(err.to_string().contains("GB/T 4754-2017"), "{err}");
    let id = store.create_account(&new("华强", "信息技术"), now).unwrap();
    let record = store.account(id).unwrap().record;
    assert_eq!(record.industry.as_deref(), Some("I"));
    assert!(record.code.unwrap().starts_with("IT2026-"));
}

#[test]
fn enumerations_read_their_chinese_labels() {
    assert_eq!("决策人".parse::<Role>(), Ok(Role::DecisionMaker));
    assert_eq!("展会".parse::<Source>(), Ok(Source::TradeShow));
    assert_eq!("重点".parse::<Level>(), Ok(Level::Key));
    assert_eq!("重点客户".parse::<Level>(), Ok(Level::Key));
    assert_eq!("商务谈判".parse::<Stage>(), Ok(Stage::Negotiation));
    assert_eq!("暂停·丢单".parse::<Stage>(), Ok(Stage::Lost));
    assert_eq!("Trade Show".parse::<Source>(), Ok(Source::TradeShow));
    assert_eq!(Stage::NeedsConfirmed.label(Lang::Zh), "需求明确");
    assert_eq!(Stage::NeedsConfirmed.label(Lang::En), "needs confirmed");
    let err = "billboard".parse::<Source>().unwrap_err();
    assert!(err.contains("trade_show (展会)"), "{err}");
}

#[test]
fn search_finds_contacts_and_phone_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("store.redb")).unwrap();
    let now = Utc.with_ymd_and_hms(2026, 11, 2, 9, 0, 0).unwrap();
    let new = NewAccount {
        name: "深圳市华强电子科技有限公司".into(),
        owner: "zhang".into(),
        contact: Some(Contact {
            name: "王总".into(),
            title: Some("采购总监".into()),
            role: Some(Role::DecisionMaker),
            phone: Some("138 0013 8000".into()),
            email: Some("Wang@HuaQiang.cn".into()),
        }),
        ..NewAccount::default()
    };
    let id = store.create_account(&new, now).unwrap();
    let other = NewAccount {
        name: "深圳市华为技术有限公司".into(),
        owner: "li".into(),
        ..NewAccount::default()
    };
    store.create_account(&other, now).unwrap();
    let found = |query: &str| -> Vec<_> {
        store
            .accounts()
            .unwrap()
            .into_iter()
            .filter(|a| a.matches(query))
            .map(|a| a.id)
            .collect()
    };
    for query in [
        "王总",
        "采购",
        "13800138000",
        "138-0013-8000",
        "１３８ ００１３",
        "wang@huaqiang",
        "华强",
    ] {
        assert_eq!(found(query), [id], "{query}");
    }
    assert!(found("赵主管").is_empty());
    assert_eq!(found("深圳市").len(), 2);
}
