//! receivers
