//! Compose's variable interpolation (pure): `$VAR`, `${VAR}`, `${VAR:-default}`,
//! `${VAR-default}`, `${VAR:?message}`, `${VAR?message}`, `${VAR:+alt}`, `${VAR+alt}` and
//! `$$` for a literal `$`; and the `.env` file format.

use std::collections::BTreeMap;

/// Why a value could not be interpolated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InterpolateError {
    /// `${VAR:?message}` / `${VAR?message}` with VAR unset (or empty for `:?`).
    #[error("{var}: {message}")]
    Required { var: String, message: String },
    #[error(
        "invalid interpolation at {at:?}: write `$$` for a literal `$`, `${{NAME}}` or `$NAME` \
         for a variable"
    )]
    Invalid { at: String },
}

/// The variables a file is interpolated with: the `.env` file's, overridden by the
/// process environment's (as Compose does).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Vars {
    vars: BTreeMap<String, String>,
}

impl Vars {
    /// `.env` values first, then `process` values over them.
    pub fn new(
        dotenv: impl IntoIterator<Item = (String, String)>,
        process: impl IntoIterator<Item = (String, String)>,
    ) -> Vars {
        let mut vars: BTreeMap<String, String> = dotenv.into_iter().collect();
        vars.extend(process);
        Vars { vars }
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str)
    }
}

/// Interpolates `text`. Variables used but unset (without a default) become empty and are
/// added to `unset`, for a warning.
pub fn interpolate(
    text: &str,
    vars: &Vars,
    unset: &mut Vec<String>,
) -> Result<String, InterpolateError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let invalid = || InterpolateError::Invalid {
            at: rest[i..].chars().take(20).collect(),
        };
        if let Some(r) = after.strip_prefix('$') {
            out.push('$');
            rest = r;
        } else if let Some(body) = after.strip_prefix('{') {
            let end = closing_brace(body).ok_or_else(invalid)?;
            out.push_str(&braced(&body[..end], vars, unset).map_err(|e| match e {
                InterpolateError::Invalid { .. } => invalid(),
                other => other,
            })?);
            rest = &body[end + 1..];
        } else {
            let n = name_len(after);
            if n == 0 {
                return Err(invalid());
            }
            out.push_str(&lookup(&after[..n], vars, unset));
            rest = &after[n..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// The index of the `}` that closes a `${`, allowing nested `${…}` in defaults.
fn closing_brace(body: &str) -> Option<usize> {
    let mut depth = 0usize;
    let bytes = body.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'$' if bytes.get(i + 1) == Some(&b'{') => {
                depth += 1;
                i += 1;
            }
            b'$' if bytes.get(i + 1) == Some(&b'$') => i += 1,
            b'}' if depth == 0 => return Some(i),
            b'}' => depth -= 1,
            _ => {}
        }
        i += 1;
    }
    None
}

/// Length of the variable name at the start of `s` (`[A-Za-z_][A-Za-z0-9_]*`).
fn name_len(s: &str) -> usize {
    let mut n = 0;
    for (i, c) in s.char_indices() {
        let ok = c == '_' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit());
        if !ok {
            break;
        }
        n = i + c.len_utf8();
    }
    n
}

fn lookup(name: &str, vars: &Vars, unset: &mut Vec<String>) -> String {
    match vars.get(name) {
        Some(v) => v.to_string(),
        None => {
            if !unset.iter().any(|u| u == name) {
                unset.push(name.to_string());
            }
            String::new()
        }
    }
}

/// The inside of `${…}`.
fn braced(body: &str, vars: &Vars, unset: &mut Vec<String>) -> Result<String, InterpolateError> {
    let n = name_len(body);
    if n == 0 {
        return Err(InterpolateError::Invalid { at: body.into() });
    }
    let (name, op) = body.split_at(n);
    let value = vars.get(name);
    let set_nonempty = value.is_some_and(|v| !v.is_empty());
    let word = |w: &str, unset: &mut Vec<String>| interpolate(w, vars, unset);
    let required = |msg: &str, unset: &mut Vec<String>| {
        let message = word(msg, unset)?;
        Err(InterpolateError::Required {
            var: name.to_string(),
            message: if message.is_empty() {
                format!("required variable {name} is missing a value")
            } else {
                message
            },
        })
    };
    if op.is_empty() {
        return Ok(lookup(name, vars, unset));
    }
    for (prefix, colon) in [(":-", true), ("-", false)] {
        if let Some(default) = op.strip_prefix(prefix) {
            let use_value = if colon { set_nonempty } else { value.is_some() };
            return match value {
                Some(v) if use_value => Ok(v.to_string()),
                _ => word(default, unset),
            };
        }
    }
    for (prefix, colon) in [(":?", true), ("?", false)] {
        if let Some(msg) = op.strip_prefix(prefix) {
            let ok = if colon { set_nonempty } else { value.is_some() };
            return match value {
                Some(v) if ok => Ok(v.to_string()),
                _ => required(msg, unset),
            };
        }
    }
    for (prefix, colon) in [(":+", true), ("+", false)] {
        if let Some(alt) = op.strip_prefix(prefix) {
            let set = if colon { set_nonempty } else { value.is_some() };
            return if set {
                word(alt, unset)
            } else {
                Ok(String::new())
            };
        }
    }
    Err(InterpolateError::Invalid { at: body.into() })
}

/// Parses a `.env` file: `NAME=value` lines, `#` comments, blank lines, an optional
/// `export ` before the name, values optionally in single or double quotes. Returns the
/// variables, or the 1-based number of the first line that is none of these.
pub fn parse_dotenv(text: &str) -> Result<Vec<(String, String)>, usize> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line).trim_start();
        let (name, value) = line.split_once('=').ok_or(i + 1)?;
        let name = name.trim();
        if name.is_empty() || name_len(name) != name.len() {
            return Err(i + 1);
        }
        out.push((name.to_string(), unquote(value.trim())));
    }
    Ok(out)
}

fn unquote(v: &str) -> String {
    let quoted = |q: char| v.len() >= 2 && v.starts_with(q) && v.ends_with(q);
    if quoted('\'') {
        v[1..v.len() - 1].to_string()
    } else if quoted('"') {
        v[1..v.len() - 1].replace("\\n", "\n").replace("\\\"", "\"")
    } else {
        // An unquoted value ends at ` #` (a trailing comment).
        v.split(" #").next().unwrap_or(v).trim_end().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vars {
        Vars::new(
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())),
            [],
        )
    }

    fn run(text: &str, v: &Vars) -> Result<String, InterpolateError> {
        interpolate(text, v, &mut Vec::new())
    }

    #[test]
    fn every_form_of_compose_interpolation() {
        let v = vars(&[("A", "x"), ("E", "")]);
        let cases = [
            ("$A", "x"),
            ("${A}", "x"),
            ("pre-${A}-post", "pre-x-post"),
            ("$A.b", "x.b"),
            ("${U:-d}", "d"),
            ("${E:-d}", "d"),
            ("${E-d}", ""),
            ("${U-d}", "d"),
            ("${A:-d}", "x"),
            ("${A:+alt}", "alt"),
            ("${E:+alt}", ""),
            ("${E+alt}", "alt"),
            ("${U+alt}", ""),
            ("$$A", "$A"),
            ("$${A}", "${A}"),
            ("a$$", "a$"),
            ("${U:-${A}}", "x"),
            ("${U:-a b}", "a b"),
            ("no vars", "no vars"),
        ];
        for (text, want) in cases {
            assert_eq!(run(text, &v).unwrap(), want, "{text}");
        }
    }

    #[test]
    fn required_variables_give_their_message() {
        let v = vars(&[("E", "")]);
        let e = run("${X:?need X}", &v).unwrap_err();
        assert_eq!(
            e,
            InterpolateError::Required {
                var: "X".into(),
                message: "need X".into()
            }
        );
        assert!(run("${E:?must be set}", &v).is_err());
        assert_eq!(run("${E?must be set}", &v).unwrap(), "");
        assert!(run("${X?}", &v).unwrap_err().to_string().contains("X"));
    }

    #[test]
    fn unset_variables_become_empty_and_are_reported() {
        let mut unset = Vec::new();
        let out = interpolate("$U-${U}-${W}", &vars(&[]), &mut unset).unwrap();
        assert_eq!(out, "--");
        assert_eq!(unset, vec!["U", "W"]);
    }

    #[test]
    fn malformed_references_are_errors() {
        for bad in ["$", "a $ b", "${", "${A", "${}", "${1A}", "$-", "${A:x}"] {
            assert!(
                matches!(run(bad, &vars(&[])), Err(InterpolateError::Invalid { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn process_environment_wins_over_dotenv() {
        let v = Vars::new(
            [
                ("A".to_string(), "file".to_string()),
                ("B".into(), "b".into()),
            ],
            [("A".to_string(), "env".to_string())],
        );
        assert_eq!(v.get("A"), Some("env"));
        assert_eq!(v.get("B"), Some("b"));
    }

    #[test]
    fn dotenv_files() {
        let text = "# c\n\nA=1\nexport B = two words\nC='q # x'\nD=\"l1\\nl2\"\nE=v # note\nF=\n";
        let got = parse_dotenv(text).unwrap();
        let want: Vec<(String, String)> = [
            ("A", "1"),
            ("B", "two words"),
            ("C", "q # x"),
            ("D", "l1\nl2"),
            ("E", "v"),
            ("F", ""),
        ]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
        assert_eq!(got, want);
        assert_eq!(parse_dotenv("A=1\nnot a line\n"), Err(2));
        assert_eq!(parse_dotenv("1X=1\n"), Err(1));
    }
}
