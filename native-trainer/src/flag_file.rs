//! Flags from a TOML file: `cringe train --config run.toml` reads each key as the flag of the
//! same name (`lr = 5e-5`, `task = ["a", "b"]`, `quiet = true`) and inserts the ones the
//! command line does not already give, so the command line always wins. Unknown keys and values
//! of the wrong kind are errors that name the file and the key.

use clap::{ArgAction, Args};

/// Subcommands whose `--config` is a flag file (`iterate`'s `--config` is its own loop config).
const FLAG_FILE_SUBCOMMANDS: &[&str] = &["train"];

/// The flags of a subcommand that takes flag files (one of [`FLAG_FILE_SUBCOMMANDS`]).
fn flag_file_subcommand(name: &str) -> Option<clap::Command> {
    match name {
        "train" => {
            Some(crate::commands::train::TrainArgs::augment_args(clap::Command::new("train")))
        }
        _ => None,
    }
}

/// Expands `--config FILE` of the subcommands that take flag files; other command lines are
/// returned unchanged. `argv[0]` is the program name.
pub fn expand_flag_files(argv: Vec<String>) -> anyhow::Result<Vec<String>> {
    let Some(sub_name) = argv.get(1) else { return Ok(argv) };
    if !FLAG_FILE_SUBCOMMANDS.contains(&sub_name.as_str()) {
        return Ok(argv);
    }
    let Some(file) = config_value(&argv[2..]) else { return Ok(argv) };
    let text = std::fs::read_to_string(&file).map_err(|e| anyhow::anyhow!("{file}: {e}"))?;
    expand_with_text(argv, &file, &text)
}

/// [`expand_flag_files`] with the flag file's `text` already read (`file` names it in errors).
pub fn expand_with_text(argv: Vec<String>, file: &str, text: &str) -> anyhow::Result<Vec<String>> {
    let sub_name = &argv[1];
    let sub = flag_file_subcommand(sub_name).expect("listed subcommands take flag files");
    let table: toml::Table = toml::from_str(text)
        .map_err(|e| anyhow::anyhow!("{file}: {}", e.to_string().trim_end()))?;
    let mut inserted = Vec::new();
    for (key, value) in &table {
        let wanted = key.replace('_', "-");
        let arg = sub
            .get_arguments()
            .find(|a| a.get_long() == Some(wanted.as_str()) || a.get_all_aliases().is_some_and(|al| al.contains(&wanted.as_str())))
            .filter(|a| a.get_id() != "config")
            .ok_or_else(|| anyhow::anyhow!("{file}: unknown key `{key}`: not a flag of `cringe {sub_name}` (see `cringe {sub_name} --help`)"))?;
        let long = arg.get_long().expect("flag-file flags have long names");
        if given_on_command_line(&argv[2..], arg) {
            continue;
        }
        let is_switch = matches!(arg.get_action(), ArgAction::SetTrue);
        match (value, is_switch) {
            (toml::Value::Boolean(true), true) => inserted.push(format!("--{long}")),
            (toml::Value::Boolean(false), true) => {}
            (_, true) => anyhow::bail!("{file}: key `{key}` must be true or false"),
            (v, false) => {
                let text = scalar_text(v, takes_text(arg))
                    .map_err(|what| anyhow::anyhow!("{file}: key `{key}`: {what}"))?;
                inserted.push(format!("--{long}={text}"));
            }
        }
    }
    let mut out = argv[..2].to_vec();
    out.extend(inserted);
    out.extend(argv[2..].iter().cloned());
    Ok(out)
}

/// The value of `--config` in `args`, if given.
fn config_value(args: &[String]) -> Option<String> {
    args.iter().enumerate().find_map(|(i, a)| match a.strip_prefix("--config") {
        Some("") => args.get(i + 1).cloned(),
        Some(rest) => rest.strip_prefix('=').map(str::to_string),
        None => None,
    })
}

/// Whether `args` already set `arg` (by its long name, a visible alias or its short letter).
fn given_on_command_line(args: &[String], arg: &clap::Arg) -> bool {
    let mut longs: Vec<&str> = arg.get_long().into_iter().collect();
    longs.extend(arg.get_all_aliases().unwrap_or_default());
    args.iter().any(|a| {
        if let Some(name) = a.strip_prefix("--") {
            let name = name.split_once('=').map_or(name, |(n, _)| n);
            return longs.contains(&name);
        }
        match (arg.get_short(), a.strip_prefix('-')) {
            (Some(s), Some(rest)) => rest.starts_with(s),
            _ => false,
        }
    })
}

/// Whether `arg` takes text (names, paths): then a number in the file is a mistake, not a name.
fn takes_text(arg: &clap::Arg) -> bool {
    let id = arg.get_value_parser().type_id();
    id == std::any::TypeId::of::<String>() || id == std::any::TypeId::of::<std::path::PathBuf>()
}

/// A TOML value as command-line text: arrays become comma-separated lists. A flag that takes
/// `text` accepts only strings (`task = [1, 2]` is an error, not two tasks named "1" and "2").
fn scalar_text(v: &toml::Value, text: bool) -> Result<String, String> {
    Ok(match v {
        toml::Value::String(s) => s.clone(),
        toml::Value::Array(items) => {
            items.iter().map(|i| scalar_text(i, text)).collect::<Result<Vec<_>, _>>()?.join(",")
        }
        _ if text => {
            return Err(format!(
                "expected a string (or an array of strings), got {}",
                v.type_str()
            ));
        }
        toml::Value::Integer(i) => i.to_string(),
        toml::Value::Float(f) => f.to_string(),
        toml::Value::Boolean(b) => b.to_string(),
        _ => return Err("expected a string, number, boolean or array".into()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    fn with_file(text: &str) -> (tempfile::TempDir, String) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("run.toml");
        std::fs::write(&p, text).unwrap();
        (dir, p.display().to_string())
    }

    #[test]
    fn file_flags_are_inserted_and_the_command_line_wins() {
        let (_d, f) = with_file(
            "task = [\"a.jsonl\", \"b.jsonl\"]\nlr = 5e-5\nbatchsize = 8\nquiet = true\nload_from_checkpoint = true\n",
        );
        let out =
            expand_flag_files(argv(&format!("cringe train --config {f} --mf m --bs 4"))).unwrap();
        assert!(out.contains(&"--task=a.jsonl,b.jsonl".to_string()), "{out:?}");
        assert!(out.contains(&"--lr=0.00005".to_string()), "{out:?}");
        assert!(
            out.contains(&"--quiet".to_string())
                && out.contains(&"--load-from-checkpoint=true".to_string())
        );
        assert!(
            !out.iter().any(|a| a.starts_with("--batchsize")),
            "the command line's --bs wins: {out:?}"
        );
        let cli = <crate::cli::Cli as clap::Parser>::try_parse_from(out).unwrap();
        let crate::cli::Command::Train(t) = cli.command else { panic!() };
        assert_eq!((t.batchsize, t.lr, t.task.len()), (4, 5e-5, 2));
    }

    #[test]
    fn numbers_for_a_text_flag_are_an_error_naming_the_key() {
        let (_d, f) = with_file("task = [1, 2]\n");
        let e = expand_flag_files(argv(&format!("cringe train --config {f} --mf m")))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("key `task`: expected a string (or an array of strings), got integer"),
            "{e}"
        );
        let (_d, f) = with_file("model_file = 3\n");
        let e = expand_flag_files(argv(&format!("cringe train --config {f} -t a")))
            .unwrap_err()
            .to_string();
        assert!(e.contains("key `model_file`: expected a string"), "{e}");
    }

    #[test]
    fn short_flags_count_as_given() {
        let (_d, f) = with_file("task = \"x.jsonl\"\n");
        let out = expand_flag_files(argv(&format!("cringe train -t y.jsonl --config={f} --mf m")))
            .unwrap();
        assert!(!out.iter().any(|a| a.contains("x.jsonl")), "{out:?}");
    }

    #[test]
    fn bad_keys_and_values_name_the_file_and_key() {
        let (_d, f) = with_file("learning_rat = 1\n");
        let e =
            expand_flag_files(argv(&format!("cringe train --config {f}"))).unwrap_err().to_string();
        assert!(e.contains("run.toml") && e.contains("unknown key `learning_rat`"), "{e}");
        let (_d, f) = with_file("quiet = 3\n");
        let e =
            expand_flag_files(argv(&format!("cringe train --config {f}"))).unwrap_err().to_string();
        assert!(e.contains("`quiet` must be true or false"), "{e}");
        let (_d, f) = with_file("lr = {a = 1}\n");
        let e =
            expand_flag_files(argv(&format!("cringe train --config {f}"))).unwrap_err().to_string();
        assert!(e.contains("key `lr`"), "{e}");
        let (_d, f) = with_file("lr = \n");
        let e =
            expand_flag_files(argv(&format!("cringe train --config {f}"))).unwrap_err().to_string();
        assert!(e.contains("run.toml") && e.contains("line 1"), "{e}");
    }

    #[test]
    fn the_bundled_seed_command_file_parses() {
        let f = concat!(env!("CARGO_MANIFEST_DIR"), "/../configs/train-safe-bb1-3b.toml");
        let out =
            expand_flag_files(argv(&format!("cringe train --config {f} --max-train-steps 3")))
                .unwrap();
        let cli = <crate::cli::Cli as clap::Parser>::try_parse_from(out).unwrap();
        let crate::cli::Command::Train(t) = cli.command else { panic!() };
        assert_eq!(
            (t.preset.as_str(), t.batchsize, t.update_freq, t.max_train_steps),
            ("bb1_3b", 8, 2, 3)
        );
        assert!(t.load_from_checkpoint && t.gradient_clip == 10.0 && t.weights() == vec![5, 1]);
    }

    #[test]
    fn other_subcommands_are_untouched() {
        let a = argv("cringe iterate --config loop.toml");
        assert_eq!(expand_flag_files(a.clone()).unwrap(), a);
    }
}
