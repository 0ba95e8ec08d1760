//! `Debug` for wire types that carry secrets: the secret fields print as `[redacted]`.

/// Implements `Debug` showing the first list of fields and redacting the second.
macro_rules! redacted_debug {
    ($ty:ident { $($shown:ident),* $(,)? } hides { $($hidden:ident),* $(,)? }) => {
        impl std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                let mut out = f.debug_struct(stringify!($ty));
                $( out.field(stringify!($shown), &self.$shown); )*
                $( out.field(stringify!($hidden), &"[redacted]"); )*
                out.finish()
            }
        }
    };
}

pub(crate) use redacted_debug;

#[cfg(test)]
mod tests {
    use crate::*;

    const SECRET: &str = "hunter2-very-secret";

    #[test]
    fn secrets_never_print() {
        let s = || SECRET.to_owned();
        let user = UserView {
            id: String::new(),
            username: "u".into(),
            display_name: String::new(),
            email: None,
            roles: vec![],
            disabled: false,
            must_change_password: false,
            totp_enrolled: false,
            totp_required: false,
            failed_logins: 0,
            locked_until: None,
            created_at: String::new(),
            last_login_at: None,
        };
        let printed = [
            format!("{:?}", LoginRequest { username: "u".into(), password: s(), totp_code: Some(s()) }),
            format!("{:?}", LoginResponse { token: s(), stage: "full".into(), user: user.clone() }),
            format!("{:?}", ChangePasswordRequest { current_password: s(), new_password: s() }),
            format!("{:?}", TotpEnrollmentView { otpauth_uri: s(), qr_png_base64: s() }),
            format!("{:?}", UnsealRequest { key_file: Some(s()), passphrase: Some(s()), share: Some(s()) }),
            format!("{:?}", CreateUserRequest { username: "u".into(), password: Some(s()), ..Default::default() }),
            format!("{:?}", CreateUserResponse { user, one_time_password: Some(s()) }),
            format!("{:?}", PasswordResetView { one_time_password: s() }),
            format!("{:?}", CreateAccountRequest { username: "root".into(), secret: Some(s()), ..Default::default() }),
            format!("{:?}", UpdateAccountRequest { secret: Some(s()), ..Default::default() }),
            format!("{:?}", RevealedSecretView { checkout_id: "c".into(), secret: s() }),
            format!(
                "{:?}",
                TokenRequest {
                    grant_type: "client_credentials".into(),
                    client_secret: Some(s()),
                    ..Default::default()
                }
            ),
            format!(
                "{:?}",
                TokenResponse { access_token: s(), token_type: "Bearer".into(), expires_in: 1, scope: String::new() }
            ),
        ];
        for text in printed {
            assert!(!text.contains(SECRET), "{text}");
            assert!(text.contains("[redacted]"), "{text}");
        }
    }
}
