//! Targets (with tags and search) and accounts (with their vault references).

use crate::fixtures::{account, expect_err, fresh, seed_root_key, seed_secret, t, target};
use anyhow::Context;
use latch_domain::account::SecretKind;
use latch_domain::names::{AccountName, HostAddress, TagName, TargetName};
use latch_domain::target::{HostKeyPin, Protocol, Target, TargetQuery};
use latch_domain::{AccountId, TargetId};
use latch_store::{Store, StoreError, accounts, targets, vault};

pub async fn check_targets(store: Store) -> anyhow::Result<()> {
    let mut web = target("web-01", "web01.example.com", &[Protocol::Ssh], &["prod", "web"], "front end")?;
    web.spec.host_key_pin = Some(HostKeyPin::parse("SHA256:uL4yP3Fv4n0o0pW9aTTeW2nC0rQ0kq0M1mXb0uM3mFQ")?);
    let db = target("db-01", "10.0.0.5", &[Protocol::Postgres, Protocol::Ssh], &[], "primary database")?;
    let mut tx = store.begin().await?;
    targets::insert(&mut tx, &web).await?;
    targets::insert(&mut tx, &db).await?;
    tx.commit().await?;

    let mut tx = store.begin().await?;
    let same_name = target("web-01", "other.example.com", &[Protocol::Rdp], &[], "")?;
    expect_err(targets::insert(&mut tx, &same_name).await, &StoreError::Conflict("target"))?;
    drop(tx);

    let mut conn = store.read().await?;
    assert_eq!(targets::find(&mut conn, web.id).await?, Some(web.clone()));
    assert_eq!(targets::find(&mut conn, db.id).await?, Some(db.clone()), "a target without tags");
    assert_eq!(targets::find_by_name(&mut conn, &TargetName::parse("db-01")?).await?, Some(db.clone()));
    assert_eq!(targets::find(&mut conn, fresh(TargetId::from_uuid)).await?, None);
    assert_eq!(targets::find_by_name(&mut conn, &TargetName::parse("nope")?).await?, None);
    assert_eq!(targets::list_all(&mut conn).await?, vec![db.clone(), web.clone()]);
    drop(conn);

    // Every spec field changes, the tags are replaced, created_at stays.
    let mut changed = web.clone();
    changed.spec.name = TargetName::parse("web-02")?;
    changed.spec.address = HostAddress::parse("2001:db8::7")?;
    changed.spec.port = 2222;
    changed.spec.protocols = vec![Protocol::Ssh, Protocol::Telnet];
    changed.spec.tags = vec![TagName::parse("env=staging")?, TagName::parse("web")?];
    changed.spec.description = "moved".to_owned();
    changed.spec.host_key_pin = None;
    changed.updated_at = t(5_000);
    let mut tx = store.begin().await?;
    targets::update(&mut tx, &changed).await?;
    tx.commit().await?;

    let mut tx = store.begin().await?;
    let mut clash = changed.clone();
    clash.spec.name = TargetName::parse("db-01")?;
    expect_err(targets::update(&mut tx, &clash).await, &StoreError::Conflict("target"))?;
    drop(tx);
    let mut tx = store.begin().await?;
    let ghost = target("ghost", "ghost.example.com", &[Protocol::Ssh], &["x"], "")?;
    expect_err(targets::update(&mut tx, &ghost).await, &StoreError::NotFound("target"))?;
    tx.commit().await?;

    let mut conn = store.read().await?;
    assert_eq!(targets::find(&mut conn, web.id).await?, Some(changed.clone()));
    assert_eq!(targets::find(&mut conn, ghost.id).await?, None, "a failed update creates nothing");
    let by_tag = |tag: &str| TargetQuery { tag: TagName::parse(tag).ok(), ..TargetQuery::default() };
    assert_eq!(targets::count(&mut conn, &by_tag("prod")).await?, 0, "old tags are gone");
    assert_eq!(targets::count(&mut conn, &by_tag("env=staging")).await?, 1);
    drop(conn);

    let mut tx = store.begin().await?;
    targets::delete(&mut tx, web.id).await?;
    expect_err(targets::delete(&mut tx, web.id).await, &StoreError::NotFound("target"))?;
    tx.commit().await?;
    let mut conn = store.read().await?;
    assert_eq!(targets::find(&mut conn, web.id).await?, None);
    assert_eq!(targets::list_all(&mut conn).await?, vec![db]);
    assert_eq!(targets::count(&mut conn, &by_tag("web")).await?, 0, "tags went with the target");
    Ok(())
}

/// A small deterministic generator (xorshift), so failures reproduce.
struct Pick(u64);

impl Pick {
    fn next(&mut self, below: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        usize::try_from(self.0 % below as u64).unwrap_or(0)
    }
    fn one<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.next(items.len())]
    }
}

/// Targets whose names, addresses and descriptions exercise case folding (ASCII and not),
/// LIKE wildcards and the escape character.
fn generated_targets() -> anyhow::Result<Vec<Target>> {
    const STEMS: [&str; 8] = ["web", "db", "Cache", "k8s.node", "jump_host", "pay-api", "x", "LEGACY"];
    const ADDRESSES: [&str; 9] = [
        "10.0.0.1",
        "10.0.10.15",
        "192.168.1.7",
        "2001:DB8::A1",
        "fe80::1",
        "Web.Example.COM",
        "db_1.internal",
        "host-9.corp.example",
        "Kraken.local",
    ];
    const DESCRIPTIONS: [&str; 12] = [
        "",
        "Primary DATABASE",
        "100% uptime, no_excuses",
        r"path C:\Temp\logs",
        "Büro im ÄUSSEREN Ring",
        "Straße 7",
        "ΣΊΣΥΦΟΣ rolls",
        "İstanbul office",
        "Kelvin \u{212A} sign",
        "under_score and per%cent",
        "tabs\tand\nnewlines",
        "emoji 🚀 rocket",
    ];
    const TAGS: [&str; 6] = ["prod", "staging", "pci", "env=dev", "team:ops", "web"];
    let mut pick = Pick(0x9e37_79b9_7f4a_7c15);
    let mut targets = Vec::new();
    for i in 0..48 {
        let name = format!("{}-{i:02}", pick.one(&STEMS));
        let protocols: Vec<Protocol> = Protocol::ALL.into_iter().filter(|_| pick.next(3) == 0).collect();
        let protocols = if protocols.is_empty() { vec![Protocol::ALL[pick.next(4)]] } else { protocols };
        let tags: Vec<&str> = TAGS.into_iter().filter(|_| pick.next(3) == 0).collect();
        let description = format!("{} {}", pick.one(&DESCRIPTIONS), pick.one(&DESCRIPTIONS));
        targets.push(target(&name, pick.one(&ADDRESSES), &protocols, &tags, description.trim())?);
    }
    Ok(targets)
}

fn generated_queries() -> anyhow::Result<Vec<TargetQuery>> {
    let texts = [
        "",
        "web",
        "WEB",
        "cache",
        "01",
        "-0",
        ".",
        "k8s.",
        "_",
        "%",
        r"\",
        "100%",
        "0%",
        "o_e",
        "no_",
        "r_s",
        r"c:\temp",
        r"\t",
        "büro",
        "BÜRO",
        "äusseren",
        "ÄUSSEREN",
        "straße",
        "STRASSE",
        "σίσυφος",
        "ΣΊΣΥΦΟΣ",
        "ος",
        "i\u{307}stanbul",
        "İSTANBUL",
        "istanbul",
        "kelvin k",
        "\u{212A}",
        "k",
        "🚀",
        "\n",
        "2001:db8",
        "db8::a",
        "DB8::A1",
        "example.com",
        "10.0.1",
        "192.168",
        "legacy-0",
        "nothing matches this",
    ];
    let tags = [None, Some("prod"), Some("pci"), Some("env=dev"), Some("team:ops"), Some("missing")];
    let protocols = [None, Some(Protocol::Ssh), Some(Protocol::Rdp), Some(Protocol::Postgres), Some(Protocol::Telnet)];
    let mut queries = Vec::new();
    for text in texts {
        queries.push(TargetQuery { text: Some(text.to_owned()), ..TargetQuery::default() });
    }
    for tag in tags {
        for protocol in protocols {
            queries.push(TargetQuery { text: None, tag: tag.map(TagName::parse).transpose()?, protocol });
        }
    }
    let mut pick = Pick(42);
    for _ in 0..40 {
        queries.push(TargetQuery {
            text: Some(pick.one(&texts).to_owned()),
            tag: tags[pick.next(tags.len())].map(TagName::parse).transpose()?,
            protocol: protocols[pick.next(protocols.len())],
        });
    }
    Ok(queries)
}

pub async fn check_target_search_agrees_with_matches(store: Store) -> anyhow::Result<()> {
    let mut all = generated_targets()?;
    let mut tx = store.begin().await?;
    for target in &all {
        targets::insert(&mut tx, target).await?;
    }
    tx.commit().await?;
    all.sort_by(|a, b| a.spec.name.cmp(&b.spec.name));

    let mut conn = store.read().await?;
    assert_eq!(targets::list_all(&mut conn).await?, all);
    let mut matched_some = 0;
    for query in generated_queries()? {
        let expected: Vec<&Target> = all.iter().filter(|target| query.matches(target)).collect();
        let found = targets::search(&mut conn, &query, 1_000, 0).await?;
        if found.iter().collect::<Vec<_>>() != expected {
            let names =
                |list: &mut dyn Iterator<Item = &Target>| list.map(|t| t.spec.name.to_string()).collect::<Vec<_>>();
            anyhow::bail!(
                "{query:?}: SQL found {:?}, matches() {:?}",
                names(&mut found.iter()),
                names(&mut expected.into_iter())
            );
        }
        assert_eq!(targets::count(&mut conn, &query).await?, i64::try_from(expected.len())?, "{query:?}");
        if !expected.is_empty() && expected.len() < all.len() {
            matched_some += 1;
        }
    }
    assert!(matched_some > 40, "the queries should mostly select a strict subset ({matched_some})");

    // Pages of any size put together give the whole result, in order.
    let query = TargetQuery { protocol: Some(Protocol::Ssh), ..TargetQuery::default() };
    let expected: Vec<Target> = all.iter().filter(|target| query.matches(target)).cloned().collect();
    for size in [1, 3, 7, 100] {
        let mut paged = Vec::new();
        let mut offset = 0;
        loop {
            let page = targets::search(&mut conn, &query, size, offset).await?;
            if page.is_empty() {
                break;
            }
            offset += i64::try_from(page.len())?;
            paged.extend(page);
        }
        assert_eq!(paged, expected, "page size {size}");
    }
    assert_eq!(targets::search(&mut conn, &TargetQuery::default(), 0, 0).await?, vec![]);
    assert_eq!(targets::search(&mut conn, &TargetQuery::default(), -1, -5).await?, vec![], "negative limit means none");
    Ok(())
}

pub async fn check_accounts(store: Store) -> anyhow::Result<()> {
    let web = target("web", "web.example.com", &[Protocol::Ssh], &[], "")?;
    let app = target("app", "app.example.com", &[Protocol::Ssh], &[], "")?;
    let root = account(web.id, "root")?;
    let admin_upper = account(web.id, "Admin")?;
    let admin_lower = account(web.id, "admin")?;
    let deploy = account(app.id, "deploy")?;
    let mut tx = store.begin().await?;
    targets::insert(&mut tx, &web).await?;
    targets::insert(&mut tx, &app).await?;
    let root_key = seed_root_key(&mut tx).await?;
    let root_secret = seed_secret(&mut tx, root_key, "account-password").await?;
    accounts::insert(&mut tx, &root, Some(root_secret)).await?;
    accounts::insert(&mut tx, &admin_upper, None).await?;
    accounts::insert(&mut tx, &admin_lower, None).await?;
    accounts::insert(&mut tx, &deploy, None).await?;
    accounts::insert(&mut tx, &account(app.id, "root")?, None).await?;
    tx.commit().await?;

    let mut tx = store.begin().await?;
    expect_err(accounts::insert(&mut tx, &account(web.id, "root")?, None).await, &StoreError::Conflict("account"))?;
    drop(tx);
    let mut tx = store.begin().await?;
    let orphan = account(fresh(TargetId::from_uuid), "nobody")?;
    expect_err(accounts::insert(&mut tx, &orphan, None).await, &StoreError::MissingReference { what: "account" })?;
    drop(tx);

    let stored_root =
        latch_domain::account::Account { has_secret: true, secret_updated_at: Some(root.created_at), ..root.clone() };
    let mut conn = store.read().await?;
    assert_eq!(accounts::find(&mut conn, root.id).await?, Some(stored_root.clone()));
    assert_eq!(accounts::find(&mut conn, deploy.id).await?, Some(deploy.clone()));
    assert_eq!(accounts::find(&mut conn, fresh(AccountId::from_uuid)).await?, None);
    assert_eq!(
        accounts::find_on_target(&mut conn, web.id, &AccountName::parse("Admin")?).await?,
        Some(admin_upper.clone())
    );
    assert_eq!(
        accounts::find_on_target(&mut conn, web.id, &AccountName::parse("admin")?).await?,
        Some(admin_lower.clone())
    );
    assert_eq!(accounts::find_on_target(&mut conn, app.id, &AccountName::parse("Admin")?).await?, None);
    let usernames = |list: Vec<latch_domain::account::Account>| {
        list.into_iter().map(|a| format!("{}/{}", a.target_id, a.spec.username)).collect::<Vec<_>>()
    };
    let web_accounts = accounts::list_for_target(&mut conn, web.id).await?;
    assert_eq!(web_accounts, vec![admin_upper.clone(), admin_lower.clone(), stored_root.clone()]);
    let on = |target: &Target, name: &str| format!("{}/{name}", target.id);
    assert_eq!(
        usernames(accounts::list_all(&mut conn).await?),
        [on(&app, "deploy"), on(&app, "root"), on(&web, "Admin"), on(&web, "admin"), on(&web, "root")]
    );
    assert_eq!(accounts::secret_id(&mut conn, root.id).await?, Some(root_secret));
    assert_eq!(accounts::secret_id(&mut conn, deploy.id).await?, None);
    expect_err(accounts::secret_id(&mut conn, fresh(AccountId::from_uuid)).await, &StoreError::NotFound("account"))?;
    drop(conn);

    // Spec fields and updated_at change; the secret reference does not.
    let mut changed = stored_root.clone();
    changed.spec.username = AccountName::parse("toor")?;
    changed.spec.secret_kind = SecretKind::SshPrivateKey;
    changed.spec.api_enabled = true;
    changed.spec.rotate_after_use = true;
    changed.spec.description = "renamed".to_owned();
    changed.updated_at = t(9_000);
    let mut tx = store.begin().await?;
    accounts::update(&mut tx, &changed).await?;
    tx.commit().await?;
    let mut tx = store.begin().await?;
    let mut clash = changed.clone();
    clash.spec.username = AccountName::parse("Admin")?;
    expect_err(accounts::update(&mut tx, &clash).await, &StoreError::Conflict("account"))?;
    drop(tx);

    let mut tx = store.begin().await?;
    expect_err(accounts::update(&mut tx, &orphan).await, &StoreError::NotFound("account"))?;
    let deploy_secret = seed_secret(&mut tx, root_key, "account-password").await?;
    accounts::set_secret(&mut tx, deploy.id, deploy_secret, t(7_000)).await?;
    expect_err(
        accounts::set_secret(&mut tx, fresh(AccountId::from_uuid), deploy_secret, t(7_000)).await,
        &StoreError::NotFound("account"),
    )?;
    tx.commit().await?;

    let mut conn = store.read().await?;
    assert_eq!(accounts::find(&mut conn, root.id).await?, Some(changed.clone()));
    let deploy_now = accounts::find(&mut conn, deploy.id).await?.context("deploy")?;
    assert_eq!((deploy_now.has_secret, deploy_now.secret_updated_at), (true, Some(t(7_000))));
    assert_eq!(accounts::secret_ids_for_target(&mut conn, web.id).await?, vec![root_secret]);
    assert_eq!(accounts::secret_ids_for_target(&mut conn, app.id).await?, vec![deploy_secret]);
    drop(conn);

    let mut tx = store.begin().await?;
    assert_eq!(accounts::delete(&mut tx, root.id).await?, Some(root_secret));
    assert_eq!(accounts::delete(&mut tx, admin_lower.id).await?, None);
    expect_err(accounts::delete(&mut tx, root.id).await, &StoreError::NotFound("account"))?;
    vault::delete_secret(&mut tx, root_secret).await?;
    tx.commit().await?;
    let mut conn = store.read().await?;
    assert_eq!(accounts::list_for_target(&mut conn, web.id).await?, vec![admin_upper]);
    Ok(())
}

pub async fn check_target_delete_with_secrets(store: Store) -> anyhow::Result<()> {
    let web = target("web", "web.example.com", &[Protocol::Ssh], &["prod"], "")?;
    let other = target("other", "other.example.com", &[Protocol::Ssh], &[], "")?;
    let keep = account(other.id, "keep")?;
    let mut tx = store.begin().await?;
    targets::insert(&mut tx, &web).await?;
    targets::insert(&mut tx, &other).await?;
    let root_key = seed_root_key(&mut tx).await?;
    let mut secrets = Vec::new();
    for name in ["a", "b", "c"] {
        let secret = seed_secret(&mut tx, root_key, "account-password").await?;
        accounts::insert(&mut tx, &account(web.id, name)?, Some(secret)).await?;
        secrets.push(secret);
    }
    accounts::insert(&mut tx, &account(web.id, "no-secret")?, None).await?;
    let kept_secret = seed_secret(&mut tx, root_key, "account-password").await?;
    accounts::insert(&mut tx, &keep, Some(kept_secret)).await?;
    tx.commit().await?;

    // A vault record cannot go while an account still refers to it.
    let mut tx = store.begin().await?;
    let refused = vault::delete_secret(&mut tx, secrets[0]).await;
    assert!(matches!(refused, Err(StoreError::Database(_))), "{refused:?}");
    drop(tx);

    // The application's order: collect the ids, delete the target (accounts cascade), then the records.
    let mut tx = store.begin().await?;
    let ids = accounts::secret_ids_for_target(&mut tx, web.id).await?;
    assert_eq!(ids, secrets);
    targets::delete(&mut tx, web.id).await?;
    for id in &ids {
        vault::delete_secret(&mut tx, *id).await?;
    }
    tx.commit().await?;

    let mut conn = store.read().await?;
    assert_eq!(accounts::list_for_target(&mut conn, web.id).await?, vec![]);
    for id in &ids {
        expect_err(vault::secret(&mut conn, *id).await, &StoreError::NotFound("secret"))?;
    }
    assert_eq!(accounts::list_all(&mut conn).await?.len(), 1);
    assert_eq!(accounts::secret_id(&mut conn, keep.id).await?, Some(kept_secret));
    assert!(vault::secret(&mut conn, kept_secret).await.is_ok());
    Ok(())
}
