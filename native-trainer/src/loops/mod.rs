//! The subcommands that run other subcommands as stages (`crate::stage`): the iterative loop
//! and the comparison of losses. Above the stages, so the stages never import them back.

pub mod compare;
pub mod iterate;
