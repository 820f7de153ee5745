pub(crate) mod cid;
pub(crate) mod data;
pub(crate) mod score;
