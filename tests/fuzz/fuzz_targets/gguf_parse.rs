//! Fuzz target: `GgufFile::parse` on arbitrary bytes must return a value or
//! a typed error, never panic, hang or allocate without bound. On success,
//! everything the parser promises is exercised: metadata lookups, typed
//! getters, and every tensor's bytes lying inside the input.
#![no_main]

use kchat::gguf::GgufFile;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(file) = GgufFile::parse(data) else {
        return;
    };
    for (key, value) in file.metadata().iter() {
        // Identity, not `==`: a NaN float value is not equal to itself.
        assert!(file.get(key).is_some_and(|v| std::ptr::eq(v, value)));
        let _ = file.get_u32(key);
        let _ = file.get_f32(key);
        let _ = file.get_str_array(key);
        let _ = file.get_i32_array(key);
    }
    let mut total = 0u64;
    for info in file.tensors() {
        assert!(file
            .tensor(&info.name)
            .is_some_and(|t| std::ptr::eq(t, info)));
        let bytes = file.tensor_data(data, info).expect("validated range");
        assert_eq!(bytes.len() as u64, info.n_bytes);
        assert!(info.n_elements() > 0);
        assert_eq!(info.offset % file.alignment(), 0);
        total += info.n_bytes;
    }
    assert!(total <= data.len() as u64);
    assert_eq!(file.total_tensor_bytes(), total);
});
