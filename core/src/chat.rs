//! Chat templates: a conversation → the exact text a chat model was trained on, from the
//! model's own Jinja template (`tokenizer_config.json`'s `chat_template`, a GGUF's
//! `tokenizer.chat_template`).
//!
//! Rendered with `minijinja` in the environment `transformers`' `apply_chat_template` sets
//! up for Jinja2: `trim_blocks` and `lstrip_blocks` on, a trailing newline dropped, loop
//! controls, `raise_exception`, `strftime_now`, a `tojson` that writes what Python's
//! `json.dumps` writes, Python's string and dict methods (`.strip()`, `.startswith()`,
//! `.items()`, … through `minijinja-contrib`'s pycompat), and the special tokens
//! (`bos_token`, `eos_token`) as variables.

use crate::error::{CoreError, Result};
use minijinja::value::{Value, ValueKind};
use minijinja::{Environment, Error, ErrorKind};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// One turn of a conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// `system`, `user` or `assistant` (templates may know others, e.g. `tool`).
    pub role: String,
    /// The turn's text.
    pub content: String,
}

impl Message {
    /// A message of `role` with `content`.
    pub fn new(role: &str, content: impl Into<String>) -> Self {
        Self { role: role.to_string(), content: content.into() }
    }
}

/// A model's chat template with the special tokens it may refer to, compiled once.
#[derive(Clone)]
pub struct ChatTemplate {
    source: String,
    bos_token: Option<String>,
    eos_token: Option<String>,
    env: Arc<Environment<'static>>,
}

impl ChatTemplate {
    /// Compiles `source` (syntax errors are reported now, not at the first conversation).
    pub fn new(source: &str, bos_token: Option<String>, eos_token: Option<String>) -> Result<Self> {
        let env = Arc::new(environment(source.to_string())?);
        Ok(Self { source: source.to_string(), bos_token, eos_token, env })
    }

    /// The template's Jinja source.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The `bos_token` and `eos_token` the template is rendered with.
    pub fn special_tokens(&self) -> (Option<&str>, Option<&str>) {
        (self.bos_token.as_deref(), self.eos_token.as_deref())
    }

    /// Renders `messages`; with `add_generation_prompt`, the opening of the assistant's turn
    /// follows, so the model continues with its reply.
    pub fn render(&self, messages: &[Message], add_generation_prompt: bool) -> Result<String> {
        let template = self.env.get_template(TEMPLATE).map_err(template_error)?;
        let ctx = minijinja::context! {
            messages => messages,
            add_generation_prompt => add_generation_prompt,
            bos_token => self.bos_token.as_deref().unwrap_or_default(),
            eos_token => self.eos_token.as_deref().unwrap_or_default(),
        };
        template.render(ctx).map_err(template_error)
    }
}

impl PartialEq for ChatTemplate {
    fn eq(&self, other: &Self) -> bool {
        (&self.source, &self.bos_token, &self.eos_token)
            == (&other.source, &other.bos_token, &other.eos_token)
    }
}

impl std::fmt::Debug for ChatTemplate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatTemplate")
            .field("source", &self.source)
            .field("bos_token", &self.bos_token)
            .field("eos_token", &self.eos_token)
            .finish_non_exhaustive()
    }
}

/// The name the template is compiled under.
const TEMPLATE: &str = "chat";

/// Jinja2 as `transformers` configures it, with `source` compiled in.
fn environment(source: String) -> Result<Environment<'static>> {
    let mut env = Environment::new();
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
    env.add_function("raise_exception", |message: String| -> std::result::Result<Value, Error> {
        Err(Error::new(ErrorKind::InvalidOperation, message))
    });
    env.add_function("strftime_now", |format: String| strftime_now(&format));
    env.add_filter("tojson", tojson);
    env.add_template_owned(TEMPLATE, source).map_err(template_error)?;
    Ok(env)
}

fn template_error(e: Error) -> CoreError {
    let mut message = format!("chat template: {e}");
    if let Some(line) = e.line() {
        message.push_str(&format!(" (template line {line})"));
    }
    CoreError::Config(message)
}

/// Python's `json.dumps(value, ensure_ascii=False)` (separators `", "` and `": "`, keys in
/// their order), with `indent` if given, as `transformers` registers it.
fn tojson(value: Value, indent: Option<usize>) -> std::result::Result<Value, Error> {
    let mut out = String::new();
    write_json(&value, indent, 0, &mut out)?;
    Ok(Value::from_safe_string(out))
}

fn write_json(
    v: &Value,
    indent: Option<usize>,
    depth: usize,
    out: &mut String,
) -> std::result::Result<(), Error> {
    let pad = |d: usize| indent.map(|n| format!("\n{}", " ".repeat(n * d))).unwrap_or_default();
    let item_sep = if indent.is_some() { "," } else { ", " };
    let (is_map, is_seq) =
        (v.kind() == ValueKind::Map, matches!(v.kind(), ValueKind::Seq | ValueKind::Iterable));
    if !(is_map || is_seq) {
        let json = match v.as_str() {
            Some(s) => serde_json::Value::String(s.to_string()).to_string(),
            None if v.is_undefined() || v.is_none() => "null".to_string(),
            None => serde_json::to_string(v)
                .map_err(|e| Error::new(ErrorKind::InvalidOperation, format!("tojson: {e}")))?,
        };
        out.push_str(&json);
        return Ok(());
    }
    let (open, close) = if is_map { ('{', '}') } else { ('[', ']') };
    let items: Vec<Value> = v.try_iter()?.collect();
    out.push(open);
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(item_sep);
        }
        out.push_str(&pad(depth + 1));
        if is_map {
            write_json(item, None, depth + 1, out)?;
            out.push_str(": ");
            write_json(&v.get_item(item)?, indent, depth + 1, out)?;
        } else {
            write_json(item, indent, depth + 1, out)?;
        }
    }
    if !items.is_empty() {
        out.push_str(&pad(depth));
    }
    out.push(close);
    Ok(())
}

/// The current UTC date and time in a `strftime` format (`%Y %m %d %H %M %S %b %B %a %A %%`).
fn strftime_now(format: &str) -> std::result::Result<Value, Error> {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    Ok(Value::from(strftime(format, secs)?))
}

fn strftime(format: &str, secs: i64) -> std::result::Result<String, Error> {
    const MONTHS: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    const DAYS: [&str; 7] =
        ["Thursday", "Friday", "Saturday", "Sunday", "Monday", "Tuesday", "Wednesday"];
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // civil date from days since 1970-01-01 (Howard Hinnant's algorithm)
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let weekday = DAYS[days.rem_euclid(7) as usize];
    let month_name = MONTHS[(month - 1) as usize];
    let mut out = String::new();
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('Y') => out.push_str(&year.to_string()),
            Some('m') => out.push_str(&format!("{month:02}")),
            Some('d') => out.push_str(&format!("{day:02}")),
            Some('H') => out.push_str(&format!("{:02}", rem / 3600)),
            Some('M') => out.push_str(&format!("{:02}", rem / 60 % 60)),
            Some('S') => out.push_str(&format!("{:02}", rem % 60)),
            Some('b') => out.push_str(&month_name[..3]),
            Some('B') => out.push_str(month_name),
            Some('a') => out.push_str(&weekday[..3]),
            Some('A') => out.push_str(weekday),
            Some('%') => out.push('%'),
            other => {
                return Err(Error::new(
                    ErrorKind::InvalidOperation,
                    format!(
                        "strftime_now: %{} is not supported",
                        other.map(String::from).unwrap_or_default()
                    ),
                ));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strftime_formats_a_known_date() {
        // 2024-07-23 14:05:09 UTC was a Tuesday
        assert_eq!(
            strftime("%d %b %Y, %A %H:%M:%S %%", 1_721_743_509).unwrap(),
            "23 Jul 2024, Tuesday 14:05:09 %"
        );
        assert_eq!(strftime("%Y-%m-%d", 0).unwrap(), "1970-01-01");
    }

    #[test]
    fn tojson_writes_what_pythons_json_dumps_writes() {
        let v = Value::from_serialize(serde_json::json!({"a": [1, "é"], "b": {}}));
        assert_eq!(tojson(v.clone(), None).unwrap().to_string(), r#"{"a": [1, "é"], "b": {}}"#);
        assert_eq!(
            tojson(v, Some(2)).unwrap().to_string(),
            "{\n  \"a\": [\n    1,\n    \"é\"\n  ],\n  \"b\": {}\n}"
        );
    }

    #[test]
    fn python_methods_trimmed_blocks_and_special_tokens_work_as_in_jinja2() {
        let source = "{{ bos_token }}{% for m in messages %}\n  {% if m.content.startswith('x') %}{{ m.content.strip().upper() }}{% else %}{{ m.role }}{% endif %}\n{% endfor %}{% if add_generation_prompt %}>{% endif %}\n";
        let t = ChatTemplate::new(source, Some("<s>".into()), None).unwrap();
        let turns = [Message::new("user", "xy  "), Message::new("assistant", "hello")];
        assert_eq!(t.render(&turns, true).unwrap(), "<s>XYassistant>");
        assert_eq!(t.render(&turns, false).unwrap(), "<s>XYassistant");
    }

    #[test]
    fn syntax_errors_and_raise_exception_are_errors() {
        assert!(ChatTemplate::new("{% for m in messages %}", None, None).is_err());
        let t = ChatTemplate::new("{{ raise_exception('no system role') }}", None, None).unwrap();
        let e = t.render(&[], false).unwrap_err().to_string();
        assert!(e.contains("no system role"), "{e}");
    }
}
