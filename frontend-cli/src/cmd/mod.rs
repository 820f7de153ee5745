pub(crate) mod cid;
pub(crate) mod data;
pub(crate) mod demo;
pub(crate) mod score;
