//! End-to-end tests with every party a real process.

mod cli;
mod demo;
mod node;
mod public_chain;
mod validators;
