//! End-to-end tests with every party a real process.

mod browser;
mod cli;
mod conformance;
mod demo;
mod node;
mod public_chain;
mod validators;
