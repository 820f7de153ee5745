pub(crate) mod cid;
pub(crate) mod competition;
pub(crate) mod data;
pub(crate) mod demo;
pub(crate) mod devnet;
pub(crate) mod payouts;
pub(crate) mod score;
pub(crate) mod submit;
