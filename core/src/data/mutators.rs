//! Mutators: composable example transformations named as in ParlAI (`task:mutators=a+b`).

use super::example::Label;
use super::parlai_text::Episode;
use crate::error::{CoreError, Result};

/// One transformation of a list of episodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutator {
    /// Every turn becomes a one-turn episode whose context is the whole history so far
    /// (earlier texts and responses, then its own text) joined by `\n`.
    Flatten,
    /// Safety classes to labels: response `__notok__` → neg, anything else → pos.
    Relabel,
    /// The last utterance of the context becomes the response, the rest the context
    /// (`""` if nothing is left); the label is kept (ParlAI's `DIRECTOR_LTR_EMPTY`).
    LtrEmpty,
    /// Keep positive examples only.
    PosOnly,
    /// Keep negative examples only.
    NegOnly,
    /// Drop the examples whose last utterance (the one `ltr_empty` makes the response) is a
    /// canned topic change, "… want to talk about …" — the bot-adversarial data's scripted
    /// safe replies, which the seed's command keeps out of training
    /// (`filter_want_to_talk_about_labels`).
    FilterWantToTalkAbout,
}

/// The accepted names (ParlAI's long names are accepted as aliases).
pub const MUTATOR_NAMES: &[&str] = &[
    "flatten",
    "relabel",
    "ltr_empty",
    "pos_only",
    "neg_only",
    "filter_want_to_talk_about_labels",
];

impl Mutator {
    /// Parses one name.
    pub fn parse(name: &str) -> Result<Self> {
        Ok(match name {
            "flatten" => Mutator::Flatten,
            "relabel" | "safety_relabel_classes" => Mutator::Relabel,
            "ltr_empty" | "DIRECTOR_LTR_EMPTY" => Mutator::LtrEmpty,
            "pos_only" => Mutator::PosOnly,
            "neg_only" => Mutator::NegOnly,
            "filter_want_to_talk_about_labels" => Mutator::FilterWantToTalkAbout,
            other => {
                return Err(CoreError::Config(format!(
                    "unknown mutator {other:?}; expected one of {MUTATOR_NAMES:?}"
                )));
            }
        })
    }

    /// Parses `a+b+c`.
    pub fn parse_list(spec: &str) -> Result<Vec<Self>> {
        spec.split('+').filter(|s| !s.is_empty()).map(Self::parse).collect()
    }

    /// Applies the mutator to all episodes.
    pub fn apply(self, episodes: Vec<Episode>) -> Vec<Episode> {
        match self {
            Mutator::Flatten => episodes.into_iter().flat_map(flatten).collect(),
            Mutator::Relabel => map_turns(episodes, |ex| {
                ex.label = if ex.response.trim() == "__notok__" { Label::Neg } else { Label::Pos };
            }),
            Mutator::LtrEmpty => map_turns(episodes, |ex| {
                let (rest, last) = match ex.context.rsplit_once('\n') {
                    Some((rest, last)) => (rest.to_string(), last.to_string()),
                    None => (String::new(), ex.context.clone()),
                };
                ex.context = rest;
                ex.response = last;
            }),
            Mutator::PosOnly => filter_turns(episodes, Label::Pos),
            Mutator::NegOnly => filter_turns(episodes, Label::Neg),
            Mutator::FilterWantToTalkAbout => retain_turns(episodes, |ex| {
                let last = ex.context.rsplit('\n').next().unwrap_or("");
                !last.to_lowercase().contains("want to talk about")
            }),
        }
    }
}

/// Applies mutators in order.
pub fn apply_all(mutators: &[Mutator], mut episodes: Vec<Episode>) -> Vec<Episode> {
    for m in mutators {
        episodes = m.apply(episodes);
    }
    episodes
}

fn flatten(ep: Episode) -> Vec<Episode> {
    let mut history: Vec<String> = Vec::new();
    let mut out = Vec::with_capacity(ep.len());
    for mut ex in ep {
        if !ex.context.is_empty() {
            history.push(ex.context.clone());
        }
        ex.context = history.join("\n");
        if !ex.response.is_empty() {
            history.push(ex.response.clone());
        }
        out.push(vec![ex]);
    }
    out
}

fn map_turns(episodes: Vec<Episode>, f: impl Fn(&mut super::Example)) -> Vec<Episode> {
    episodes
        .into_iter()
        .map(|mut ep| {
            ep.iter_mut().for_each(&f);
            ep
        })
        .collect()
}

fn filter_turns(episodes: Vec<Episode>, keep: Label) -> Vec<Episode> {
    retain_turns(episodes, |ex| ex.label == keep)
}

fn retain_turns(episodes: Vec<Episode>, keep: impl Fn(&super::Example) -> bool) -> Vec<Episode> {
    episodes
        .into_iter()
        .map(|ep| ep.into_iter().filter(|ex| keep(ex)).collect::<Episode>())
        .filter(|ep| !ep.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Example;

    fn ex(c: &str, r: &str) -> Example {
        Example {
            context: c.into(),
            response: r.into(),
            label: Label::None,
            source: "t".into(),
            rejected: None,
            turns: None,
            form: None,
        }
    }

    #[test]
    fn flatten_builds_history() {
        let eps = vec![vec![ex("hi", "hello"), ex("how are you", "fine")]];
        let out = Mutator::Flatten.apply(eps);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0][0].context, "hi");
        assert_eq!(out[1][0].context, "hi\nhello\nhow are you");
        assert_eq!(out[1][0].response, "fine");
    }

    #[test]
    fn seed_safety_chain_makes_negatives_with_empty_context() {
        let eps = vec![
            vec![ex("you idiot", "__notok__")],
            vec![ex("nice day", "__ok__")],
            vec![ex("a\nb", "__ok__")],
        ];
        let out = apply_all(&Mutator::parse_list("flatten+relabel+ltr_empty").unwrap(), eps);
        let flat: Vec<_> = out.into_iter().flatten().collect();
        assert_eq!(
            (flat[0].context.as_str(), flat[0].response.as_str(), flat[0].label),
            ("", "you idiot", Label::Neg)
        );
        assert_eq!(
            (flat[1].context.as_str(), flat[1].response.as_str(), flat[1].label),
            ("", "nice day", Label::Pos)
        );
        assert_eq!((flat[2].context.as_str(), flat[2].response.as_str()), ("a", "b"));
        let negs = apply_all(
            &Mutator::parse_list("relabel+neg_only").unwrap(),
            vec![vec![ex("x", "__notok__"), ex("y", "__ok__")]],
        );
        assert_eq!(negs.concat().len(), 1);
        let poss = apply_all(
            &Mutator::parse_list("relabel+pos_only").unwrap(),
            vec![vec![ex("x", "__notok__"), ex("y", "__ok__")]],
        );
        assert_eq!(poss.concat()[0].context, "y");
    }

    #[test]
    fn the_bad_datas_scripted_topic_changes_are_filtered_out_before_ltr_empty() {
        let eps = vec![
            vec![ex("you are dumb\nHey, do you want to talk about something else?", "__ok__")],
            vec![ex("what a day\nI loved the concert", "__ok__")],
        ];
        let chain =
            "flatten+safety_relabel_classes+filter_want_to_talk_about_labels+DIRECTOR_LTR_EMPTY";
        let out: Vec<_> = apply_all(&Mutator::parse_list(chain).unwrap(), eps).concat();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].response, "I loved the concert");
    }

    #[test]
    fn unknown_mutator_lists_the_known_ones() {
        let e = Mutator::parse_list("flatten+shout").unwrap_err().to_string();
        assert!(e.contains("shout") && e.contains("ltr_empty"), "{e}");
    }
}
