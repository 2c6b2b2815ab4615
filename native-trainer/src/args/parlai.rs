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
