//! The LiteLLM YAML config loader on any text: Ok or Err, never a panic or a hang.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    match tollgate::config::load_str(&text) {
        Ok(loaded) => drop(loaded),
        Err(errors) => assert!(!errors.0.is_empty(), "an Err without a message"),
    }
});
