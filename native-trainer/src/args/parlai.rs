//! ParlAI's multi-letter short flags (`-dt`, `-bs`, `-lr`, …), rewritten to their long forms
//! before clap parses a command line, so the seed's commands work as written.

/// ParlAI's multi-letter short flags and the long flags they mean here.
const PARLAI_SHORT_FLAGS: &[(&str, &str)] = &[
    ("-dt", "--datatype"),
    ("-bs", "--batchsize"),
    ("-lr", "--lr"),
    ("-mf", "--model-file"),
    ("-dp", "--datapath"),
    ("-eps", "--num-epochs"),
    ("-tstep", "--max-train-steps"),
    ("-et", "--eval-task"),
    ("-mtw", "--multitask-weights"),
    ("-vtim", "--validation-every-n-secs"),
    ("-vstep", "--validation-every-n-steps"),
    ("-stim", "--save-every-n-secs"),
    ("-ttim", "--max-train-time"),
    ("-ltim", "--log-every-n-secs"),
    ("-vp", "--validation-patience"),
    ("-vme", "--validation-max-exs"),
    ("-vmt", "--validation-metric"),
    ("-vmm", "--validation-metric-mode"),
    ("-esz", "--embedding-size"),
    ("-hid", "--ffn-size"),
    ("-nl", "--n-layers"),
    ("-nel", "--n-encoder-layers"),
    ("-ndl", "--n-decoder-layers"),
    ("-jfdp", "--jsonfile-datapath"),
];

/// Rewrites ParlAI-style flags such as `-dt valid` or `-lr=5e-5` to their long forms, so the
/// seed's command lines work as written.
pub fn normalize_parlai_flags(args: impl IntoIterator<Item = String>) -> Vec<String> {
    args.into_iter()
        .map(|a| {
            let (flag, value) = match a.split_once('=') {
                Some((f, v)) => (f.to_string(), Some(v.to_string())),
                None => (a.clone(), None),
            };
            match PARLAI_SHORT_FLAGS.iter().find(|(short, _)| *short == flag) {
                Some((_, long)) => match value {
                    Some(v) => format!("{long}={v}"),
                    None => long.to_string(),
                },
                None => a,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seeds_multi_letter_short_flags_become_long_ones_and_values_stay() {
        let argv =
            ["cringe", "train", "-vtim", "120", "-ttim=34200", "-vp", "30", "-t", "x", "-lr", "-5"]
                .map(String::from);
        assert_eq!(
            normalize_parlai_flags(argv),
            [
                "cringe",
                "train",
                "--validation-every-n-secs",
                "120",
                "--max-train-time=34200",
                "--validation-patience",
                "30",
                "-t",
                "x",
                "--lr",
                "-5"
            ]
        );
    }
}
