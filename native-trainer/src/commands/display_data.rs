//! `cringe display-data` (`dd`): print a task's examples as the model will see them, like
//! `parlai display_data`.

use clap::{ArgAction, Args};
use cringe_core::data::{Datatype, Label, MultitaskSampler};
use std::io::Write;
use std::path::PathBuf;

/// Show examples of one or more tasks.
#[derive(Debug, Clone, Args)]
#[command(
    after_help = "Example:\n  cringe dd -t safety-mini:toxic:mutators=flatten+relabel+ltr_empty -n 5 --prepend-classifier-label true"
)]
pub struct DisplayDataArgs {
    /// Tasks, comma-separated, as for `cringe train -t`.
    #[arg(
        short = 't',
        long = "task",
        value_delimiter = ',',
        required = true,
        value_name = "TASK[,TASK...]"
    )]
    pub task: Vec<String>,

    /// Integer sampling weight of each task (default: all 1).
    #[arg(
        long = "multitask-weights",
        visible_alias = "mtw",
        value_delimiter = ',',
        value_name = "W[,W...]"
    )]
    pub multitask_weights: Vec<u32>,

    /// Split: train, valid or test (ParlAI -dt).
    #[arg(long = "datatype", visible_alias = "dt", default_value = "train")]
    pub datatype: String,

    /// How many examples to show (ParlAI -n).
    #[arg(short = 'n', long = "num-examples", default_value_t = 10)]
    pub num_examples: usize,

    /// Folder holding the built-in datasets.
    #[arg(long = "datapath", visible_alias = "dp", value_name = "DIR")]
    pub datapath: Option<PathBuf>,

    /// Prefix each response with its label ([pos], [neg], [none]), as the seed's
    /// IterativeTeacher does with the classifier's verdict.
    #[arg(long = "prepend-classifier-label", action = ArgAction::Set, value_parser = crate::args::parse_bool, default_value = "false", value_name = "BOOL")]
    pub prepend_classifier_label: bool,

    /// Shuffle seed; examples are shown in file order when there is one task and no seed.
    #[arg(long)]
    pub seed: Option<u64>,

    /// The file the iterative teacher (`-t iterative`, ParlAI's
    /// `projects.cringe.teachers:IterativeTeacher`) reads: filtered world logs (ParlAI -jfdp).
    #[arg(long = "jsonfile-datapath", value_name = "FILE")]
    pub jsonfile_datapath: Option<PathBuf>,
}

/// The `-t` entries with `--jsonfile-datapath` given to every iterative-teacher task that does
/// not name its own file.
fn with_jsonfile(tasks: &[String], file: Option<&std::path::Path>) -> anyhow::Result<Vec<String>> {
    let Some(file) = file else { return Ok(tasks.to_vec()) };
    tasks
        .iter()
        .map(|spec| {
            let t = cringe_core::data::TaskSpec::parse(spec)?;
            let iterative = cringe_core::data::ITERATIVE_TEACHERS.contains(&t.name.as_str());
            Ok(match iterative && t.jsonfile_datapath.is_none() {
                true => format!("{spec}:jsonfile_datapath={}", file.display()),
                false => spec.clone(),
            })
        })
        .collect()
}

fn label_tag(l: Label) -> &'static str {
    match l {
        Label::Pos => "[pos]",
        Label::Neg => "[neg]",
        Label::None => "[none]",
    }
}

/// Runs `cringe display-data`, writing to `out`.
pub fn run(args: DisplayDataArgs, out: &mut impl Write) -> anyhow::Result<()> {
    let dt = Datatype::parse(&args.datatype)?;
    let datapath = args.datapath.clone().unwrap_or_else(cringe_core::data::default_datapath);
    let specs = with_jsonfile(&args.task, args.jsonfile_datapath.as_deref())?;
    let tasks = crate::commands::train::load_tasks(&specs, &datapath, dt)?;
    let weights = crate::commands::train::task_weights(&args.multitask_weights, tasks.len())?;
    let sizes: Vec<usize> = tasks.iter().map(|(_, e)| e.len()).collect();
    let total: usize = sizes.iter().sum();
    let n = args.num_examples.min(total);
    let picks: Vec<(usize, usize)> = if tasks.len() == 1 && args.seed.is_none() {
        (0..n).map(|i| (0, i)).collect()
    } else {
        let mut s = MultitaskSampler::new(&sizes, &weights, args.seed.unwrap_or(0))
            .map_err(anyhow::Error::msg)?;
        (0..n).map(|_| s.next_pair()).collect()
    };
    for (t, i) in picks {
        let (name, examples) = &tasks[t];
        let e = &examples[i];
        writeln!(out, "- - - NEW EPISODE: {name} - - -")?;
        writeln!(out, "{}", if e.context.is_empty() { "<empty context>" } else { &e.context })?;
        let tag = if args.prepend_classifier_label {
            format!("{} ", label_tag(e.label))
        } else {
            String::new()
        };
        writeln!(out, "   {tag}{}", e.response)?;
    }
    writeln!(out, "[ loaded {total} examples from {} task(s), {} split ]", tasks.len(), dt.name())?;
    Ok(())
}
