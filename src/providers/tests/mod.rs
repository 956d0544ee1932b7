//! Tests across providers: the usage every translator reports, whole and streamed.

mod stream_usage;
mod whole_usage;
