//! Authentication of the person at the gateway: one state machine over the SSH methods, asking `latch-app` for
//! every decision.
//!
//! - `publickey`: the key must be registered to the Latch user named in the login (`alice@root@db01`); the
//!   decision is `App::gateway_login_with_key`, taken only after russh verified the signature.
//! - `password`: `App::gateway_login_with_password` without a code; a user who needs one is refused here, so the
//!   client falls back to keyboard-interactive.
//! - `keyboard-interactive`: "Password: ", then "Verification code: " when Latch asks for a TOTP code.
//!
//! Right after the identity is established, `App::authorize_connection` decides whether the person may use the
//! account now. Unknown user, wrong credential, unknown target and no access all give the same refusal, so the
//! gateway cannot be used to discover targets. A policy that needs a second factor after a key login, or a consent
//! banner, continues with a partial success and keyboard-interactive.

use std::borrow::Cow;

use latch_app::{App, AppError, ConnectionGrant, GatewayIdentity, RequestContext};
use latch_domain::Timestamp;
use latch_domain::gateway_login::{GatewayLogin, RouteHint};
use latch_domain::target::Protocol;
use latch_vault::SecretString;
use russh::keys::PublicKey;
use russh::keys::ssh_key::HashAlg;
use russh::server::{Auth, Response};
use tracing::{info, warn};

use super::limits::{keyboard_interactive_only, offered_methods};

const PASSWORD_PROMPT: &str = "Password: ";
const CODE_PROMPT: &str = "Verification code: ";
const CONSENT_PROMPT: &str = "Type yes to accept and continue: ";

/// A person allowed to use one account now, and when they accepted the policy's consent banner.
#[derive(Debug)]
pub(crate) struct Authorized {
    pub(crate) grant: ConnectionGrant,
    pub(crate) consent_accepted_at: Option<Timestamp>,
}

/// The authentication of one connection.
#[derive(Debug)]
pub(crate) struct Authenticator {
    app: App,
    ctx: RequestContext,
    /// The route hint the client sent before SSH, if any: then a bare SSH user name is the account.
    route: Option<RouteHint>,
    state: State,
}

/// Where the exchange stands; every refusal goes back to `Fresh`.
#[derive(Debug, Default)]
enum State {
    #[default]
    Fresh,
    /// Keyboard-interactive asked for the password.
    AskedPassword {
        login: String,
    },
    /// The password was right; keyboard-interactive asked for the TOTP code.
    AskedPasswordCode {
        login: String,
        password: SecretString,
    },
    /// A key login needs a TOTP code for this policy (partial success given).
    KeyNeedsCode {
        login: String,
        identity: GatewayIdentity,
    },
    AskedKeyCode {
        login: String,
        identity: GatewayIdentity,
    },
    /// The policy shows a consent banner that must be accepted (partial success given).
    NeedsConsent {
        login: String,
        grant: ConnectionGrant,
    },
    AskedConsent {
        login: String,
        grant: ConnectionGrant,
    },
    /// The person is authenticated but the login is ambiguous; the message is shown, then the login refused.
    NeedsNotice {
        login: String,
        message: String,
    },
    AskedNotice,
    Done(Authorized),
}

/// What `authorize_connection` said, in the terms of this state machine.
enum Decision {
    Allowed(ConnectionGrant),
    NeedsCode(GatewayIdentity),
    NeedsConsent(ConnectionGrant),
    Ambiguous(String),
    Refused,
}

impl Authenticator {
    pub(crate) fn new(app: App, ctx: RequestContext, route: Option<RouteHint>) -> Authenticator {
        Authenticator { app, ctx, route, state: State::Fresh }
    }

    fn parse_login(&self, user: &str) -> Result<GatewayLogin, latch_domain::DomainError> {
        GatewayLogin::with_hint(user, self.route.as_ref())
    }

    /// The authorization, once a method accepted; taken once.
    pub(crate) fn take_authorized(&mut self) -> Option<Authorized> {
        match std::mem::take(&mut self.state) {
            State::Done(authorized) => Some(authorized),
            other => {
                self.state = other;
                None
            }
        }
    }

    /// Whether a key may be used to sign; only spares the client a signature, never decides.
    pub(crate) async fn key_offered(&mut self, user: &str, key: &PublicKey) -> Auth {
        let Ok(login) = self.parse_login(user) else { return refuse() };
        match self.app.gateway_key_registered(login.user.as_str(), &fingerprint(key)).await {
            Ok(true) => Auth::Accept,
            Ok(false) => refuse(),
            Err(error) => self.internal(&error),
        }
    }

    /// A key whose signature russh verified.
    pub(crate) async fn key_verified(&mut self, user: &str, key: &PublicKey) -> Auth {
        let Ok(login) = self.parse_login(user) else { return self.refuse() };
        let identity = match self.app.gateway_login_with_key(login.user.as_str(), &fingerprint(key), &self.ctx).await {
            Ok(identity) => identity,
            Err(error) => return self.refused_login(&error),
        };
        match self.authorize(&identity, &login).await {
            Decision::Allowed(grant) => self.accept(grant, None),
            Decision::NeedsCode(identity) => self.partial(State::KeyNeedsCode { login: user.to_owned(), identity }),
            Decision::NeedsConsent(grant) => self.partial(State::NeedsConsent { login: user.to_owned(), grant }),
            Decision::Ambiguous(message) => self.partial(State::NeedsNotice { login: user.to_owned(), message }),
            Decision::Refused => self.refuse(),
        }
    }

    /// The `password` method: no second factor can be given here.
    pub(crate) async fn password(&mut self, user: &str, password: &str) -> Auth {
        let Ok(login) = self.parse_login(user) else { return self.refuse() };
        let password = SecretString::new(password.to_owned());
        let identity = match self.app.gateway_login_with_password(login.user.as_str(), &password, None, &self.ctx).await
        {
            Ok(identity) => identity,
            Err(error) => return self.refused_login(&error),
        };
        match self.authorize(&identity, &login).await {
            Decision::Allowed(grant) => self.accept(grant, None),
            Decision::NeedsConsent(grant) => self.partial(State::NeedsConsent { login: user.to_owned(), grant }),
            Decision::Ambiguous(message) => self.partial(State::NeedsNotice { login: user.to_owned(), message }),
            Decision::NeedsCode(_) | Decision::Refused => self.refuse(),
        }
    }

    /// The `keyboard-interactive` method: `response` is `None` when the client starts it.
    pub(crate) async fn keyboard_interactive(&mut self, user: &str, response: Option<Response<'_>>) -> Auth {
        match response {
            None => self.start_keyboard_interactive(user),
            Some(mut answers) => {
                let answer = answers.next().map(|bytes| String::from_utf8_lossy(&bytes).into_owned());
                self.answer(user, answer.unwrap_or_default()).await
            }
        }
    }

    fn start_keyboard_interactive(&mut self, user: &str) -> Auth {
        match std::mem::take(&mut self.state) {
            State::KeyNeedsCode { login, identity } if login == user => {
                self.ask(State::AskedKeyCode { login, identity }, "", CODE_PROMPT, false)
            }
            State::NeedsConsent { login, grant } if login == user => {
                let banner = grant.consent_banner().unwrap_or_default().to_owned();
                self.ask(State::AskedConsent { login, grant }, &banner, CONSENT_PROMPT, true)
            }
            State::NeedsNotice { login, message } if login == user => {
                self.state = State::AskedNotice;
                Auth::Partial { name: Cow::Borrowed("Latch"), instructions: Cow::Owned(message), prompts: no_prompts() }
            }
            _ => self.ask(State::AskedPassword { login: user.to_owned() }, "", PASSWORD_PROMPT, false),
        }
    }

    async fn answer(&mut self, user: &str, answer: String) -> Auth {
        match std::mem::take(&mut self.state) {
            State::AskedPassword { login } if login == user => self.answer_password(login, answer).await,
            State::AskedPasswordCode { login, password } if login == user => {
                self.answer_password_code(login, password, &answer).await
            }
            State::AskedKeyCode { login, identity } if login == user => {
                match self.app.gateway_add_totp(&identity, &answer, &self.ctx).await {
                    Ok(identity) => self.authorized_by_keyboard(login, &identity).await,
                    Err(error) => self.refused_login(&error),
                }
            }
            State::AskedConsent { login, grant } if login == user && answer.trim().eq_ignore_ascii_case("yes") => {
                let now = self.app.now();
                self.accept(grant, Some(now))
            }
            _ => self.refuse(),
        }
    }

    async fn answer_password(&mut self, login: String, password: String) -> Auth {
        let Ok(parsed) = self.parse_login(&login) else { return self.refuse() };
        let password = SecretString::new(password);
        match self.app.gateway_login_with_password(parsed.user.as_str(), &password, None, &self.ctx).await {
            Ok(identity) => self.authorized_by_keyboard(login, &identity).await,
            Err(AppError::TotpRequired) => {
                self.ask(State::AskedPasswordCode { login, password }, "", CODE_PROMPT, false)
            }
            Err(error) => self.refused_login(&error),
        }
    }

    async fn answer_password_code(&mut self, login: String, password: SecretString, code: &str) -> Auth {
        let Ok(parsed) = self.parse_login(&login) else { return self.refuse() };
        match self.app.gateway_login_with_password(parsed.user.as_str(), &password, Some(code), &self.ctx).await {
            Ok(identity) => self.authorized_by_keyboard(login, &identity).await,
            Err(error) => self.refused_login(&error),
        }
    }

    /// After an identity was established inside keyboard-interactive: the next step is asked at once.
    async fn authorized_by_keyboard(&mut self, login: String, identity: &GatewayIdentity) -> Auth {
        let Ok(parsed) = self.parse_login(&login) else { return self.refuse() };
        match self.authorize(identity, &parsed).await {
            Decision::Allowed(grant) => self.accept(grant, None),
            Decision::NeedsConsent(grant) => {
                let banner = grant.consent_banner().unwrap_or_default().to_owned();
                self.ask(State::AskedConsent { login, grant }, &banner, CONSENT_PROMPT, true)
            }
            Decision::Ambiguous(message) => {
                self.state = State::AskedNotice;
                Auth::Partial { name: Cow::Borrowed("Latch"), instructions: Cow::Owned(message), prompts: no_prompts() }
            }
            // Keyboard-interactive already asked for every factor the person has.
            Decision::NeedsCode(_) | Decision::Refused => self.refuse(),
        }
    }

    async fn authorize(&self, identity: &GatewayIdentity, login: &GatewayLogin) -> Decision {
        let account = login.account.as_ref().map(|account| account.as_str());
        let target = login.target.as_str();
        match self.app.authorize_connection(identity, target, account, Protocol::Ssh, &self.ctx).await {
            Ok(grant) if grant.consent_banner().is_some() => Decision::NeedsConsent(grant),
            Ok(grant) => Decision::Allowed(grant),
            Err(AppError::TotpRequired) => Decision::NeedsCode(identity.clone()),
            Err(AppError::BadRequest(message)) => Decision::Ambiguous(message),
            Err(error) => {
                if error.is_internal() {
                    warn!(%error, "authorizing a gateway connection failed");
                }
                Decision::Refused
            }
        }
    }

    fn accept(&mut self, grant: ConnectionGrant, consent_accepted_at: Option<Timestamp>) -> Auth {
        info!(
            user = %grant.user().username,
            account = %grant.account().spec.username,
            target = %grant.target().spec.name,
            "gateway login authorized"
        );
        self.state = State::Done(Authorized { grant, consent_accepted_at });
        Auth::Accept
    }

    fn ask(&mut self, next: State, instructions: &str, prompt: &'static str, echo: bool) -> Auth {
        self.state = next;
        Auth::Partial {
            name: Cow::Borrowed(if instructions.is_empty() { "" } else { "Latch" }),
            instructions: Cow::Owned(instructions.to_owned()),
            prompts: Cow::Owned(vec![(Cow::Borrowed(prompt), echo)]),
        }
    }

    /// The first factor was accepted; the client must continue with keyboard-interactive.
    fn partial(&mut self, next: State) -> Auth {
        self.state = next;
        Auth::Reject { proceed_with_methods: Some(keyboard_interactive_only()), partial_success: true }
    }

    fn refused_login(&mut self, error: &AppError) -> Auth {
        if error.is_internal() {
            warn!(%error, "a gateway login failed inside Latch");
        }
        self.refuse()
    }

    fn refuse(&mut self) -> Auth {
        self.state = State::Fresh;
        refuse()
    }

    fn internal(&mut self, error: &AppError) -> Auth {
        warn!(%error, "checking a gateway key failed inside Latch");
        refuse()
    }
}

/// The one refusal, whatever the reason; every method stays available.
pub(crate) fn refuse() -> Auth {
    Auth::Reject { proceed_with_methods: Some(offered_methods()), partial_success: false }
}

fn no_prompts() -> Cow<'static, [(Cow<'static, str>, bool)]> {
    Cow::Owned(Vec::new())
}

/// `SHA256:…` as `ssh-keygen -lf` prints it, the form Latch stores.
fn fingerprint(key: &PublicKey) -> String {
    key.fingerprint(HashAlg::Sha256).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_keep_every_method() {
        match refuse() {
            Auth::Reject { proceed_with_methods: Some(methods), partial_success: false } => {
                assert_eq!(methods, offered_methods())
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn fingerprints_match_ssh_keygen() {
        // `ssh-keygen -lf` prints SHA256:h+IWFkRQ416rlcs6Z1H78lCd6+C7YnHhBfidD65yNpE for this key.
        let key =
            PublicKey::from_openssh("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEoCjPgpiwf0XNRsIss8yCBbiQl5Q9BbePOObRn0loyo")
                .unwrap();
        assert_eq!(fingerprint(&key), "SHA256:h+IWFkRQ416rlcs6Z1H78lCd6+C7YnHhBfidD65yNpE");
    }
}
