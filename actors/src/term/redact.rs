//! Secret redaction for terminal text, applied to every command line and output before it is
//! stored, indexed or embedded.
//!
//! Each rule replaces the secret itself (not its label) with `[REDACTED:<kind>]`, so a line
//! keeps its meaning (`export GITHUB_TOKEN=[REDACTED:assignment]`) and a search for the
//! variable's name still finds it. The rules cover the forms secrets commonly take in a
//! terminal: cloud keys, VCS and chat tokens, `password=`/`token:` assignments, bearer and
//! basic authorisation headers, credentials in URLs, JWTs and PEM private keys.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::{Captures, Regex};

/// One redaction rule: what it matches and which capture group is the secret (0 = all).
struct Rule {
    kind: &'static str,
    re: Regex,
    group: usize,
}

fn rule(kind: &'static str, pattern: &str, group: usize) -> Option<Rule> {
    match Regex::new(pattern) {
        Ok(re) => Some(Rule { kind, re, group }),
        Err(e) => {
            // A pattern is a constant: a bad one is a programming error that the unit tests
            // catch; never take the process down for it.
            tracing::error!(kind, error = %e, "bad redaction pattern");
            None
        }
    }
}

static RULES: LazyLock<Vec<Rule>> = LazyLock::new(|| {
    [
        // PEM private keys, whole block (also a block cut off by truncation).
        rule(
            "private_key",
            r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----[\s\S]*?(-----END [A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----|\z)",
            0,
        ),
        // AWS access key ids and secret keys.
        rule("aws_key_id", r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[0-9A-Z]{16}\b", 0),
        rule(
            "aws_secret",
            r#"(?i)\baws_?secret_?(?:access_?)?key\b["']?\s*[:=]\s*["']?([A-Za-z0-9/+=]{20,})"#,
            1,
        ),
        // GitHub, GitLab, Slack, OpenAI/Anthropic-style, Google, Stripe, npm, PyPI tokens.
        rule("github_token", r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{40,})\b", 0),
        rule("gitlab_token", r"\bglpat-[A-Za-z0-9_-]{20,}\b", 0),
        rule("slack_token", r"\bxox[abposr]-[A-Za-z0-9-]{10,}\b", 0),
        rule("api_key", r"\bsk-(?:ant-|proj-|live-|test-)?[A-Za-z0-9_-]{20,}\b", 0),
        rule("google_api_key", r"\bAIza[0-9A-Za-z_-]{35}\b", 0),
        rule("stripe_key", r"\b[rsp]k_(?:live|test)_[0-9A-Za-z]{16,}\b", 0),
        rule("npm_token", r"\bnpm_[A-Za-z0-9]{36}\b", 0),
        rule("pypi_token", r"\bpypi-[A-Za-z0-9_-]{50,}\b", 0),
        // JSON Web Tokens.
        rule("jwt", r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\b", 0),
        // Authorization headers.
        rule(
            "bearer",
            r"(?i)\b(?:bearer|token|basic)\s+([A-Za-z0-9._~+/=-]{16,})",
            1,
        ),
        // user:password@host in URLs.
        rule("url_password", r"(?i)\b[a-z][a-z0-9+.-]*://[^\s:/@]+:([^\s@/]+)@", 1),
        // KEY=value / key: value, where the key names a secret (`DB_PASSWORD`, `api_key`,
        // `github.token`); a word that merely contains one (`tokenizer`) is not a key.
        rule(
            "assignment",
            r#"(?i)\b(?:[A-Z0-9]+[_.-])*(?:password|passwd|passphrase|pwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|client[_-]?secret|auth)(?:[_.-][A-Z0-9]+)*["']?\s*[=:]\s*["']?([^\s"'&;,]{4,})"#,
            1,
        ),
        // --password VALUE, --token=VALUE and friends on a command line.
        rule(
            "flag",
            r"(?i)(?:^|\s)--?(?:password|passwd|pass|token|secret|api-key|apikey|access-key)(?:=|\s+)([^\s-][^\s]{3,})",
            1,
        ),
    ]
    .into_iter()
    .flatten()
    .collect()
});

/// Values that an `assignment` match must not redact: they are placeholders, not secrets.
fn is_placeholder(value: &str) -> bool {
    value.starts_with("[REDACTED")
        || value.starts_with('$')
        || value.starts_with("<")
        || matches!(
            value.to_ascii_lowercase().as_str(),
            "none" | "null" | "true" | "false" | "required" | "prompt" | "stdin" | "****" | "xxxx"
        )
        || value.chars().all(|c| c == '*' || c == 'x' || c == 'X')
}

/// `text` with every secret the rules know replaced by `[REDACTED:<kind>]`.
pub fn redact(text: &str) -> Cow<'_, str> {
    let mut out: Cow<'_, str> = Cow::Borrowed(text);
    for rule in RULES.iter() {
        if !rule.re.is_match(&out) {
            continue;
        }
        let replaced = rule
            .re
            .replace_all(&out, |caps: &Captures<'_>| {
                let Some(all) = caps.get(0) else {
                    return String::new();
                };
                let Some(secret) = caps.get(rule.group) else {
                    return all.as_str().to_owned();
                };
                if matches!(rule.kind, "assignment" | "flag") && is_placeholder(secret.as_str()) {
                    return all.as_str().to_owned();
                }
                let start = secret.start() - all.start();
                let end = secret.end() - all.start();
                let whole = all.as_str();
                format!(
                    "{}[REDACTED:{}]{}",
                    &whole[..start],
                    rule.kind,
                    &whole[end..]
                )
            })
            .into_owned();
        out = Cow::Owned(replaced);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_compiles() {
        assert_eq!(RULES.len(), 16);
    }

    #[test]
    fn cloud_keys_and_tokens_are_redacted() {
        let text = "AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE\n\
                    aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n\
                    token ghp_abcdefghijklmnopqrstuvwxyz0123456789\n\
                    slack xoxb-1234567890-abcdefghij\n\
                    OPENAI sk-proj-abcdefghijklmnopqrstuvwxyz123456";
        let out = redact(text);
        for secret in [
            "AKIAIOSFODNN7EXAMPLE",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
            "xoxb-1234567890-abcdefghij",
            "sk-proj-abcdefghijklmnopqrstuvwxyz123456",
        ] {
            assert!(!out.contains(secret), "{secret} survived in {out}");
        }
        assert!(out.contains("AWS_ACCESS_KEY_ID="), "{out}");
        assert!(out.contains("[REDACTED:aws_key_id]"), "{out}");
    }

    #[test]
    fn passwords_in_assignments_flags_and_urls_are_redacted() {
        let out = redact(
            "password=hunter2hunter\nDB_PASSWORD: 's3cr3t-value'\nmysql --password sup3rs3cret\n\
             git clone https://bob:pa55w0rd@example.com/r.git\nAuthorization: Bearer abcdefghijklmnop0123",
        );
        for secret in [
            "hunter2hunter",
            "s3cr3t-value",
            "sup3rs3cret",
            "pa55w0rd",
            "abcdefghijklmnop0123",
        ] {
            assert!(!out.contains(secret), "{secret} survived in {out}");
        }
        assert!(out.contains("password=[REDACTED:assignment]"), "{out}");
        assert!(
            out.contains("https://bob:[REDACTED:url_password]@example.com"),
            "{out}"
        );
    }

    #[test]
    fn private_keys_are_removed_whole() {
        let out = redact(
            "before\n-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\nQUJDREVG\n\
             -----END OPENSSH PRIVATE KEY-----\nafter",
        );
        assert_eq!(out, "before\n[REDACTED:private_key]\nafter");
        let cut = redact("-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA");
        assert_eq!(cut, "[REDACTED:private_key]");
    }

    #[test]
    fn ordinary_text_is_left_alone() {
        for text in [
            "cargo test --workspace",
            "password: <prompt>",
            "export TOKEN=$GITHUB_TOKEN",
            "Compiling tokenizer v0.1.0",
            "ls -la /tmp && echo hi",
            "tokenizer: v0.1.0",
            "the token is valid",
        ] {
            assert_eq!(redact(text), text);
        }
    }
}
