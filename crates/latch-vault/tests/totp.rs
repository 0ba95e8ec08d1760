//! TOTP through the public API.

use latch_vault::{TotpSeed, VaultError, totp_code_at, totp_otpauth_uri, totp_qr_png_base64, totp_verify};

const T: u64 = 1_700_000_015;

#[test]
fn code_verifies_at_the_same_time_and_one_step_either_side() {
    let seed = TotpSeed::generate();
    let code = totp_code_at(&seed, T);
    assert_eq!(code.len(), 6);
    assert!(code.bytes().all(|b| b.is_ascii_digit()));
    let step = T / 30;
    assert_eq!(totp_verify(&seed, &code, T), Some(step));
    assert_eq!(totp_verify(&seed, &code, T + 30), Some(step));
    assert_eq!(totp_verify(&seed, &code, T - 30), Some(step));
    assert_eq!(totp_verify(&seed, &format!(" {} {} ", &code[..3], &code[3..]), T), Some(step));
}

#[test]
fn codes_two_steps_away_are_refused() -> Result<(), String> {
    let seed = TotpSeed::generate();
    // Pick a time whose code differs from the codes of nearby steps, so a refusal cannot be a
    // coincidence of equal codes (ten collisions in a row has probability around 1e-40).
    for offset in 0..10u64 {
        let at = T + offset * 30;
        let code = totp_code_at(&seed, at);
        let distinct =
            (1..=3).all(|k| totp_code_at(&seed, at + 30 * k) != code && totp_code_at(&seed, at - 30 * k) != code);
        if distinct {
            assert_eq!(totp_verify(&seed, &code, at + 60), None);
            assert_eq!(totp_verify(&seed, &code, at - 60), None);
            return Ok(());
        }
    }
    Err("no step with distinct neighbouring codes found".to_owned())
}

#[test]
fn wrong_codes_are_refused() {
    let seed = TotpSeed::generate();
    let valid: Vec<String> = [T - 30, T, T + 30].iter().map(|&at| totp_code_at(&seed, at)).collect();
    let wrong = ["000000", "000001", "000002", "000003"]
        .into_iter()
        .find(|candidate| !valid.iter().any(|code| code == candidate))
        .unwrap_or("000004");
    assert_eq!(totp_verify(&seed, wrong, T), None);
    for bad in ["", "12345", "1234567", "abcdef", "+12345", "-12345"] {
        assert_eq!(totp_verify(&seed, bad, T), None, "{bad:?}");
    }
    let other_code = totp_code_at(&TotpSeed::generate(), T);
    let coincidence = valid.contains(&other_code);
    assert_eq!(totp_verify(&seed, &other_code, T).is_some(), coincidence);
}

#[test]
fn rfc_6238_test_vector() -> Result<(), VaultError> {
    // RFC 6238 appendix B, SHA1 seed "12345678901234567890": 94287082 at t=59 (8 digits).
    let seed = TotpSeed::from_bytes(b"12345678901234567890".to_vec())?;
    assert_eq!(totp_code_at(&seed, 59), "287082");
    assert_eq!(totp_code_at(&seed, 1_111_111_109), "081804");
    assert_eq!(totp_code_at(&seed, 2_000_000_000), "279037");
    Ok(())
}

#[test]
fn seed_round_trips_and_short_seeds_are_refused() -> Result<(), VaultError> {
    let seed = TotpSeed::generate();
    assert_eq!(seed.as_bytes().len(), 20);
    assert_ne!(seed.as_bytes(), TotpSeed::generate().as_bytes());
    let copy = TotpSeed::from_bytes(seed.as_bytes().to_vec())?;
    assert_eq!(totp_code_at(&copy, T), totp_code_at(&seed, T));
    assert!(matches!(TotpSeed::from_bytes(vec![1u8; 15]), Err(VaultError::Totp(_))));
    Ok(())
}

#[test]
fn otpauth_uri_names_issuer_and_account() -> Result<(), VaultError> {
    let seed = TotpSeed::from_bytes(b"12345678901234567890".to_vec())?;
    let uri = totp_otpauth_uri(&seed, "Latch", "alice@example.com")?;
    assert!(uri.starts_with("otpauth://totp/"), "{uri}");
    assert!(uri.contains("Latch"), "{uri}");
    assert!(uri.contains("alice%40example.com") || uri.contains("alice@example.com"), "{uri}");
    assert!(uri.contains("issuer=Latch"), "{uri}");
    assert!(uri.contains("secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"), "{uri}");

    assert!(matches!(totp_otpauth_uri(&seed, "La:tch", "alice"), Err(VaultError::Totp(_))));
    assert!(matches!(totp_otpauth_uri(&seed, "Latch", "al:ice"), Err(VaultError::Totp(_))));
    assert!(matches!(totp_otpauth_uri(&seed, "Latch", ""), Err(VaultError::Totp(_))));
    Ok(())
}

#[test]
fn qr_code_is_a_base64_png() -> Result<(), VaultError> {
    use base64::Engine as _;
    let seed = TotpSeed::generate();
    let png = totp_qr_png_base64(&seed, "Latch", "alice")?;
    let bytes = base64::engine::general_purpose::STANDARD.decode(png).map_err(|_| VaultError::Totp("not base64"))?;
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"));
    Ok(())
}
