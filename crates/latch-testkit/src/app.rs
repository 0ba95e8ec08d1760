//! A fully initialized [`App`] on a temporary database, with helpers to log principals in.

use anyhow::{Context, anyhow};
use latch_app::{
    App, AppConfig, InitMode, LoginRequest, ManualClock, NewUser, Principal, RequestContext, SecretString,
};
use latch_domain::Timestamp;
use latch_domain::auth_session::AuthSessionKind;
use latch_domain::names::Username;
use latch_domain::permission::Role;
use latch_store::Store;
use std::sync::Arc;

/// The password the admin of a [`TestApp`] has after setup.
pub const ADMIN_PASSWORD: &str = "correct horse battery staple";
/// The password every user made by [`TestApp::user_with_roles`] gets.
pub const USER_PASSWORD: &str = "another long test password";

/// An initialized, unsealed application with a fully logged-in admin.
#[derive(Debug)]
pub struct TestApp {
    pub app: App,
    pub store: Store,
    pub clock: Arc<ManualClock>,
    /// The text of the unseal key file.
    pub key_file_text: SecretString,
    pub admin_token: String,
    _dir: Option<tempfile::TempDir>,
}

impl TestApp {
    /// On a fresh SQLite file.
    pub async fn sqlite() -> anyhow::Result<TestApp> {
        let dir = tempfile::tempdir()?;
        let url = Store::sqlite_url(&dir.path().join("latch.db"));
        let store = Store::connect(&url).await?;
        Self::on(store, Some(dir)).await
    }

    /// On a fresh database of the shared PostgreSQL cluster; `None` when PostgreSQL is unavailable.
    pub async fn postgres(hint: &str) -> anyhow::Result<Option<TestApp>> {
        let Some(cluster) = crate::postgres::shared_postgres()? else { return Ok(None) };
        let url = cluster.fresh_database(hint)?;
        let store = Store::connect(&url).await?;
        Ok(Some(Self::on(store, None).await?))
    }

    async fn on(store: Store, dir: Option<tempfile::TempDir>) -> anyhow::Result<TestApp> {
        let clock = Arc::new(ManualClock::new(Timestamp::from_millis(1_800_000_000_000)));
        let config = AppConfig { fast_kdf_for_tests: true, ..AppConfig::default() };
        let app = App::new(store.clone(), clock.clone(), config);
        let admin = Username::parse("admin").map_err(|e| anyhow!("{e}"))?;
        let outcome = app.initialize(InitMode::KeyFile, &admin).await?;
        let key_file_text = outcome.key_file_text.context("key file mode returns the key")?;
        let first = login(&app, "admin", outcome.admin_one_time_password.expose()).await?;
        let principal = app.authenticate(&first, &RequestContext::default()).await?;
        let ctx = RequestContext::default();
        app.change_own_password(
            &principal,
            outcome.admin_one_time_password,
            SecretString::new(ADMIN_PASSWORD.to_owned()),
            &ctx,
        )
        .await?;
        let admin_token = login(&app, "admin", ADMIN_PASSWORD).await?;
        Ok(TestApp { app, store, clock, key_file_text, admin_token, _dir: dir })
    }

    /// The admin as a principal.
    pub async fn admin(&self) -> anyhow::Result<Principal> {
        Ok(self.app.authenticate(&self.admin_token, &RequestContext::default()).await?)
    }

    /// Creates a user with `roles` and [`USER_PASSWORD`], logs them in and returns their token.
    pub async fn user_with_roles(&self, username: &str, roles: &[Role]) -> anyhow::Result<String> {
        let admin = self.admin().await?;
        let new = NewUser {
            username: username.to_owned(),
            display_name: username.to_owned(),
            email: None,
            roles: roles.to_vec(),
            totp_required: false,
            password: Some(SecretString::new(USER_PASSWORD.to_owned())),
        };
        self.app.create_user(&admin, new, &RequestContext::default()).await?;
        login(&self.app, username, USER_PASSWORD).await
    }
}

/// Logs in with a password (no TOTP) and returns the session token.
pub async fn login(app: &App, username: &str, password: &str) -> anyhow::Result<String> {
    let request = LoginRequest {
        username: username.to_owned(),
        password: SecretString::new(password.to_owned()),
        totp_code: None,
        kind: AuthSessionKind::Api,
    };
    let outcome = app.login(request, &RequestContext::default()).await?;
    Ok(outcome.token.expose().clone())
}
