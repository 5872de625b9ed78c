//! Time-based one-time passwords (RFC 6238): HMAC-SHA1, 6 digits, 30-second steps, as every
//! authenticator app expects. A code of the step before or after is accepted, for clock drift;
//! the caller refuses a step already used, so a code seen over a shoulder cannot be replayed.

use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;

const STEP_SECONDS: i64 = 30;
const DIGITS: u32 = 6;
pub const SECRET_BYTES: usize = 20;

fn code_at(secret: &[u8], step: i64) -> Option<u32> {
    let mut mac = Hmac::<Sha1>::new_from_slice(secret).ok()?;
    mac.update(&step.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    // RFC 4226 section 5.3: dynamic truncation.
    let offset = usize::from(digest.last()? & 0x0f);
    let bytes: [u8; 4] = digest.get(offset..offset + 4)?.try_into().ok()?;
    Some((u32::from_be_bytes(bytes) & 0x7fff_ffff) % 10_u32.pow(DIGITS))
}

/// The step `code` is valid for at `now`, if any.
pub fn verify(secret: &[u8], code: &str, now: DateTime<Utc>) -> Option<i64> {
    let code = code.trim();
    if code.len() != DIGITS as usize || !code.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    let code: u32 = code.parse().ok()?;
    let current = now.timestamp().div_euclid(STEP_SECONDS);
    [current, current - 1, current + 1].into_iter().find(|step| code_at(secret, *step) == Some(code))
}

/// The code of `now`, as an authenticator app shows it; for tests and tools.
pub fn code(secret: &[u8], now: DateTime<Utc>) -> Option<String> {
    code_at(secret, now.timestamp().div_euclid(STEP_SECONDS)).map(|code| format!("{code:06}"))
}

/// RFC 4648 base32 without padding, as `otpauth://` URIs carry secrets.
pub fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut text = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for byte in bytes {
        buffer = (buffer << 8) | u32::from(*byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            text.push(char::from(ALPHABET[((buffer >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        text.push(char::from(ALPHABET[((buffer << (5 - bits)) & 31) as usize]));
    }
    text
}

/// The bytes of an RFC 4648 base32 text, as `base32` writes it; `None` for anything else.
pub fn decode_base32(text: &str) -> Option<Vec<u8>> {
    let mut bytes = Vec::with_capacity(text.len() * 5 / 8);
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for character in text.trim_end_matches('=').bytes() {
        let value = match character {
            b'A'..=b'Z' => character - b'A',
            b'2'..=b'7' => character - b'2' + 26,
            _ => return None,
        };
        buffer = (buffer << 5) | u32::from(value);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            bytes.push(u8::try_from((buffer >> bits) & 0xff).ok()?);
        }
    }
    Some(bytes)
}

pub fn otpauth_uri(secret: &[u8], account: &str) -> String {
    let account: String = account
        .bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'@' => char::from(byte).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect();
    format!(
        "otpauth://totp/Causerie:{account}?secret={}&issuer=Causerie&algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}",
        base32(secret)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B, SHA-1 rows, truncated to 6 digits.
    #[test]
    fn matches_the_rfc_test_vectors() {
        let secret = b"12345678901234567890";
        for (time, expected) in
            [(59, 287_082), (1_111_111_109, 81_804), (1_234_567_890, 5_924), (2_000_000_000, 279_037)]
        {
            let now = DateTime::from_timestamp(time, 0).unwrap();
            assert_eq!(code(secret, now), Some(format!("{expected:06}")), "at {time}");
            assert!(verify(secret, &format!("{expected:06}"), now).is_some());
        }
    }

    #[test]
    fn codes_of_other_steps_and_garbage_are_refused() {
        let secret = b"12345678901234567890";
        let now = DateTime::from_timestamp(1_111_111_109, 0).unwrap();
        let code = code(secret, now).unwrap();
        assert!(verify(secret, &code, now + chrono::Duration::seconds(30)).is_some(), "one step of drift");
        assert!(verify(secret, &code, now + chrono::Duration::seconds(90)).is_none());
        assert!(verify(secret, "12345", now).is_none());
        assert!(verify(secret, "abcdef", now).is_none());
    }

    #[test]
    fn base32_is_rfc_4648() {
        assert_eq!(base32(b"foobar"), "MZXW6YTBOI");
        assert_eq!(base32(b"12345678901234567890"), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        assert_eq!(decode_base32("MZXW6YTBOI").as_deref(), Some(&b"foobar"[..]));
        assert_eq!(decode_base32("mzxw"), None);
    }
}
